"""Remove samples in bulk (a split's, or one import's), as a Job: batches by id, counts, approvals updated.

Samples QC reviewed are kept: their review items, corrections and audit events point at them (the audit is
append-only), so the job reports how many it left. A split that lost samples goes back to review.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from annotator.models import TaskSplit
from pipeline.jobs.runner import start_job
from pipeline.models import Job, JobKind, Sample, SampleImage


class RemovalError(ValueError):
    """Bad parameters of a removal; the message is meant for the admin."""


def removable(params: dict[str, Any]) -> tuple[Any, Any]:
    """(the samples the parameters name, those QC references and that are kept)."""
    if params.get("import_job"):
        samples = Sample.objects.filter(import_job_id=params["import_job"])
    elif params.get("task"):
        samples = Sample.objects.filter(task__slug=params["task"])
        if params.get("split"):
            samples = samples.filter(split=params["split"])
    else:
        raise RemovalError("Name an import job, or a task (and a split).")
    # reverse relations of qc's models (by name: pipeline does not import qc)
    referenced = samples.filter(review_items__isnull=False) | samples.filter(qc_revisions__isnull=False)
    referenced = referenced | samples.filter(qc_events__isnull=False)
    return samples, referenced.distinct()


def describe(params: dict[str, Any]) -> str:
    if params.get("import_job"):
        return f"the samples of import #{params['import_job']}"
    return f"the samples of {params['task']}" + (f"/{params['split']}" if params.get("split") else "")


def start_removal(params: dict[str, Any], user: Any) -> Job:
    samples, _ = removable(params)
    count = samples.count()
    if not count:
        raise RemovalError(f"There are no samples to delete in {describe(params)}.")
    return start_job(
        JobKind.DELETE,
        "pipeline.samples.tasks.delete_samples",
        user=user,
        params={k: v for k, v in params.items() if v},
        total=count,
        message=f"Queued: delete {describe(params)}.",
    )


def delete_samples(params: dict[str, Any], progress: Any, batch_size: int = 1000) -> dict[str, Any]:
    """Delete the named samples in id batches (one transaction each, so a cancel or a kill keeps what is done
    consistent); splits that lost samples go back to review. Returns the counts."""
    samples, referenced = removable(params)
    kept = set(referenced.values_list("id", flat=True))
    total = samples.count()
    deleted, last_id = 0, 0
    splits: set[tuple[int, str]] = set()
    progress.update(done=0, total=total - len(kept), message=f"Deleting {describe(params)}", force=True)
    while True:
        batch = list(samples.filter(id__gt=last_id).order_by("id").values_list("id", "task_id", "split")[:batch_size])
        if not batch:
            break
        last_id = batch[-1][0]
        ids = [row[0] for row in batch if row[0] not in kept]
        with transaction.atomic():
            SampleImage.objects.filter(sample_id__in=ids).delete()
            Sample.objects.filter(id__in=ids).delete()
        deleted += len(ids)
        splits.update((task_id, split) for sample_id, task_id, split in batch if sample_id not in kept)
        progress.update(done=deleted, message=f"Deleted {deleted} samples", deleted=deleted, kept=len(kept))
    reopened = 0
    for task_id, split in splits:
        reopened += TaskSplit.objects.filter(task_id=task_id, split=split).reopen_for_review(
            f"Reopened for review: {deleted} samples were deleted ({describe(params)})."
        )
    progress.update(message=f"{deleted} samples deleted, {len(kept)} kept (reviewed by QC)", force=True)
    return {"deleted": deleted, "kept_reviewed": len(kept), "splits": len(splits), "reopened": reopened}
