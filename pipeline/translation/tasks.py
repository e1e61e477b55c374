"""Celery tasks of Stage IV, all on the `gpu` queue; each wires a Job to pipeline.translation.runner."""

from __future__ import annotations

from typing import Any

from pipeline.jobs.runner import Progress, job_task

from ..models import Job
from . import runner


@job_task(queue="gpu")
def translate_run(job: Job, progress: Progress) -> dict[str, Any]:
    """A translation job: fan out chunks, run them, follow them to the end (resumable)."""
    return runner.run_parent(job, progress)


@job_task(queue="gpu")
def translate_chunk(job: Job, progress: Progress) -> dict[str, Any]:
    """One (task, split, language, range) chunk, or one (task, language) instruction pool."""
    return runner.run_chunk(job, progress)


@job_task(queue="gpu")
def translate_calibrate(job: Job, progress: Progress) -> dict[str, Any]:
    """Time the configured backend on a few of the plan's strings, for the estimate."""
    return runner.run_calibration(job, progress)
