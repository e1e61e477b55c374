"""Who may see and act on which reviews. Every QC view and API endpoint filters through here,
so another reviewer's review is simply not found (404)."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from annotator import roles
from annotator.models import QCStatus, TaskSplit
from pipeline.models import Sample

from .models import Review, ReviewItem, ReviewStatus


def visible_reviews(user: Any) -> QuerySet[Review]:
    """Admins read every review; a reviewer only their own; anyone else none."""
    reviews = Review.objects.select_related("task_split__task", "reviewer")
    if roles.is_admin(user):
        return reviews
    if roles.is_reviewer(user):
        return reviews.filter(reviewer=user)
    return reviews.none()


def actionable_items(user: Any) -> QuerySet[ReviewItem]:
    """Items the user may decide on: those of their own reviews, admins included (no acting for others)."""
    if not roles.is_reviewer(user):
        return ReviewItem.objects.none()
    return ReviewItem.objects.filter(review__reviewer=user).select_related("review__task_split__task", "sample")


def startable_splits(user: Any) -> QuerySet[TaskSplit]:
    """Splits whose review the user may start: admins any, a reviewer those of tasks assigned to them."""
    splits = TaskSplit.objects.select_related("task")
    if roles.is_admin(user):
        return splits
    if roles.is_reviewer(user):
        return splits.filter(task__reviewer=user)
    return splits.none()


def waiting_splits(user: Any) -> QuerySet[TaskSplit]:
    """The reviewer's queue: their tasks' splits with samples that are not approved and not being reviewed."""
    has_samples = Exists(Sample.objects.filter(task_id=OuterRef("task_id"), split=OuterRef("split")))
    open_review = Exists(Review.objects.filter(task_split=OuterRef("pk"), status=ReviewStatus.OPEN))
    return (
        TaskSplit.objects.filter(task__reviewer=user)
        .filter(Q(qc_status=QCStatus.PENDING) | Q(qc_status=QCStatus.REJECTED))
        .filter(has_samples)
        .exclude(open_review)
        .select_related("task")
        .order_by("task__slug", "split")
    )


def history_visible_splits(user: Any) -> QuerySet[TaskSplit]:
    """A split's QC history (notes, every review, the audit): admins and the task's writer (the annotator,
    who must see why it was sent back). Reviewers see their own reviews on the review pages."""
    splits = TaskSplit.objects.select_related("task", "task__writer", "task__reviewer", "approved_by")
    if roles.is_admin(user):
        return splits
    if not user.is_authenticated:
        return splits.none()
    return splits.filter(task__writer=user)
