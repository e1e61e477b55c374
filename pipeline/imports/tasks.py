"""Celery task of the import step (thin: the work is in pipeline.imports.importer)."""

from __future__ import annotations

from typing import Any

from pipeline.imports.importer import ImportRejected, build_importer
from pipeline.imports.outcome import empty_import_warning
from pipeline.jobs.runner import Progress, job_task
from pipeline.models import Job


@job_task(queue="default")
def import_source(job: Job, progress: Progress) -> dict[str, Any]:
    """Import one source dataset split. Resumable: committed batches are skipped."""
    importer = build_importer(job.params, job=job, progress=progress)
    try:
        result = importer.run().as_dict()
    except ImportRejected as exc:
        Job.objects.filter(pk=job.pk).update(result=exc.result)
        raise
    result["warning"] = empty_import_warning(result, importer.adapter, importer.source)
    return result
