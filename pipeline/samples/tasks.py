"""Celery task of the samples step (thin: the work is in pipeline.samples.removal)."""

from __future__ import annotations

from typing import Any

from pipeline.jobs.runner import Progress, job_task
from pipeline.models import Job
from pipeline.samples import removal


@job_task(queue="default")
def delete_samples(job: Job, progress: Progress) -> dict[str, Any]:
    """Delete a split's or an import's samples. Resumable: deleted rows are gone, the rest is done next time."""
    return removal.delete_samples(job.params, progress)
