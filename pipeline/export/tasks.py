"""Celery task of the export step (thin: the work is in pipeline.export.writer)."""

from __future__ import annotations

from typing import Any

from pipeline.export import writer
from pipeline.jobs.runner import Progress, job_task
from pipeline.models import Job


@job_task(queue="default")
def export_dataset(job: Job, progress: Progress) -> dict[str, Any]:
    """Write an export of approved splits. Resumable after a killed worker."""
    return writer.run_export(job.export, progress)
