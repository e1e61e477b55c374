"""Who may see and act on which reviews. Every QC view and API endpoint filters through here,
so another reviewer's review is simply not found (404)."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet

from annotator import roles
from annotator.models import QCStatus, TaskSplit

from .models import Review, ReviewItem, ReviewRole, ReviewStatus


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


def live_reviews(reviews: QuerySet[Review]) -> QuerySet[Review]:
    """Reviews that can still decide: second reviews, and primary ones whose split is in review with them
    as the task's reviewer (the queryset form of review.stale_reason)."""
    return reviews.filter(
        Q(role=ReviewRole.SECOND)
        | Q(task_split__qc_status=QCStatus.IN_REVIEW, task_split__task__reviewer=F("reviewer"))
    )


def review_queue(reviewer: Any) -> QuerySet[TaskSplit]:
    """The one definition of a reviewer's queue: splits of their tasks not approved yet (not reviewed,
    in review, or sent back and awaiting re-review), each with `sample_count` and `unparaphrased` (samples
    whose short answer waits for paraphrasing), both from the split's counters (no COUNT over samples);
    callers keep those with samples (a split without samples cannot be reviewed yet). The home page shows
    the same queue."""
    return (
        TaskSplit.objects.filter(task__reviewer=reviewer)
        .exclude(qc_status=QCStatus.APPROVED)
        .annotate(unparaphrased=F("paraphrase_pending") + F("paraphrase_failed"))
        .select_related("task")
        .order_by("task__slug", "split")
    )


def waiting_splits(user: Any) -> QuerySet[TaskSplit]:
    """Splits of the reviewer's queue (review_queue, also on the home page) with samples,
    that they have no live review of yet: starting one supersedes a review left by a former reviewer or
    made stale by changed content."""
    theirs = live_reviews(
        Review.objects.filter(task_split=OuterRef("pk"), status=ReviewStatus.OPEN, role=ReviewRole.PRIMARY)
    )
    return review_queue(user).filter(sample_count__gt=0).exclude(Exists(theirs))


def open_reviews_of(user: Any) -> QuerySet[Review]:
    """The user's reviews that are under way and can still decide (primary or second): "In progress"
    on the QC queue and on the home page."""
    mine = Review.objects.filter(reviewer=user, status=ReviewStatus.OPEN).select_related("task_split__task")
    return live_reviews(mine).order_by("id")


def returned_splits(user: Any) -> QuerySet[TaskSplit]:
    """Splits sent back by QC that the user may read (their tasks; admins all), with the notes."""
    return history_visible_splits(user).filter(qc_status=QCStatus.REJECTED).order_by("task__slug", "split")


def work_counts(user: Any) -> dict[str, int]:
    """What waits for this person, for the navigation: reviews in progress + splits waiting (reviewers),
    splits sent back on the tasks they write (annotators)."""
    counts = {}
    if roles.is_reviewer(user):
        counts["review"] = open_reviews_of(user).count() + waiting_splits(user).count()
    if roles.is_annotator(user):
        counts["returned"] = TaskSplit.objects.filter(task__writer=user, qc_status=QCStatus.REJECTED).count()
    return counts


def history_visible_splits(user: Any) -> QuerySet[TaskSplit]:
    """A split's QC history (notes, every review, the audit): admins and the task's writer (the annotator,
    who must see why it was sent back). Reviewers see their own reviews on the review pages."""
    splits = TaskSplit.objects.select_related("task", "task__writer", "task__reviewer", "approved_by")
    if roles.is_admin(user):
        return splits
    if not user.is_authenticated:
        return splits.none()
    return splits.filter(task__writer=user)
