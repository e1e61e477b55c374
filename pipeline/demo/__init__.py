"""The demo project of `make run`: users, tasks and a small dataset drawn on the fly with Pillow.

Reads: nothing. Writes: demo users, instructions, and samples through a Celery job.
"""
