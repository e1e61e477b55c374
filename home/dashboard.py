"""What each role sees on its landing page: the person's own work, in a few aggregate queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Count, IntegerField, Q, Sum, Value, When

from annotator.models import PoolStatus, QCStatus, Task, TaskSplit
from pipeline.models import Job, JobStatus
from qc.access import open_reviews_of, returned_splits, review_queue, waiting_splits

INSTRUCTIONS_PER_TASK = 10  # the paper's pool size per task

# Pools that need the writer's hand first: returned with comments, then still open, then submitted.
_POOL_ORDER = Case(
    When(pool_status=PoolStatus.RETURNED, then=Value(0)),
    When(pool_status=PoolStatus.OPEN, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def writing_tasks(user: Any) -> list[Task]:
    """The tasks this person writes instructions for, those needing action first, with counts."""
    tasks = list(Task.objects.filter(writer=user).with_instruction_counts().order_by(_POOL_ORDER, "slug"))
    for task in tasks:
        task.instruction_percent = min(100, 100 * task.instruction_count // INSTRUCTIONS_PER_TASK)
    return tasks


@dataclass
class ReviewWork:
    """What the reviewer's home page shows: the same two lists as the QC queue, and the splits without samples."""

    in_progress: list[Any]  # qc Review rows under way (primary or second)
    waiting: list[TaskSplit]  # with sample_count
    without_samples: int

    @property
    def count(self) -> int:
        return len(self.in_progress) + len(self.waiting)


def review_work(user: Any) -> ReviewWork:
    """The reviewer's reviews in progress and the splits waiting for them (qc.access, as on the QC queue)."""
    without = review_queue(user).filter(sample_count=0).count()
    return ReviewWork(list(open_reviews_of(user)), list(waiting_splits(user)), without)


def sent_back(user: Any) -> list[TaskSplit]:
    """Splits of the tasks this annotator writes that QC sent back, with the notes."""
    return list(returned_splits(user).filter(task__writer=user))


def admin_overview() -> dict[str, Any]:
    """Headline numbers of the whole project."""
    tasks = Task.objects.aggregate(
        total=Count("id"),
        with_writer=Count("id", filter=Q(writer__isnull=False)),
        with_reviewer=Count("id", filter=Q(reviewer__isnull=False)),
        submitted=Count("id", filter=Q(pool_status=PoolStatus.SUBMITTED)),
    )
    splits = TaskSplit.objects.aggregate(
        total=Count("id"),
        approved=Count("id", filter=Q(qc_status=QCStatus.APPROVED)),
        samples=Sum("sample_count"),  # the splits' counters: one row per split, whatever the number of samples
    )
    jobs = Job.objects.exclude(params__has_key="parent").aggregate(
        active=Count("id", filter=Q(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])),
        failed=Count("id", filter=Q(status=JobStatus.FAILED)),
    )
    return {"tasks": tasks, "splits": splits, "jobs": jobs, "samples": splits.pop("samples") or 0}
