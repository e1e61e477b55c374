"""Celery task of the training step (thin: the work is in training.runs and training.train)."""

from __future__ import annotations

from typing import Any

from pipeline.jobs.runner import Progress, job_task
from pipeline.models import Job

from . import runs


@job_task(queue="gpu")
def train_model(job: Job, progress: Progress) -> dict[str, Any]:
    """Train (or carry on training) one run; a redelivered job resumes from the newest checkpoint."""
    return runs.execute(job, progress)
