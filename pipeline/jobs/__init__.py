"""The Job mechanism that every long step runs on.

Does: claims, heartbeats, throttled progress, cancel, re-sending jobs of dead workers (runner.py);
who sees which job (access.py); the terminal's progress bars (cli.py); the job pages and API.
Reads and writes: the Job row (pipeline.models.Job). Steps start their jobs by task name.
"""
