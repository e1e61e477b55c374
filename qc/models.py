"""Stage III records: reviews of ten sampled instances per split, their verdicts, corrections and an audit trail."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from annotator.models import Instruction, TaskSplit
from pipeline.models import Sample

SAMPLE_SIZE = 10


class ProblemTag(models.TextChoices):
    INSTRUCTION = "instruction"
    INPUTS = "inputs"
    OUTPUTS = "outputs"
    IMAGE = "image"
    FORMAT = "format"


class ReviewStatus(models.TextChoices):
    OPEN = "open", "In progress"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Superseded"  # closed undecided: reviewer reassigned or content changed


class ShortAnswers(models.TextChoices):
    """The reviewer's choice for a split whose short answers were never paraphrased."""

    UNASKED = "", "Not asked"
    AS_IS = "as_is", "Export the short answers as they are"
    PARAPHRASE_FIRST = "paraphrase_first", "Paraphrase first"


class ReviewRole(models.TextChoices):
    PRIMARY = "primary", "Reviewer"
    SECOND = "second", "Second reviewer"


class Verdict(models.TextChoices):
    PENDING = "pending", "Not decided"
    APPROVED = "approved", "Approved"
    CORRECTED = "corrected", "Corrected"
    REJECTED = "rejected", "Rejected"


PASSING = (Verdict.APPROVED, Verdict.CORRECTED)


def reviewer_conflict(task_id: int, writer_id: int | None, reviewer_id: int | None) -> str | None:
    """Why this person may not review the task, or None: the writer and instruction authors are excluded."""
    if reviewer_id is None:
        return "A review needs a reviewer."
    if writer_id == reviewer_id:
        return "The reviewer of a task must not be the person who writes its instructions."
    if Instruction.objects.filter(task_id=task_id, author_id=reviewer_id).exists():
        return "The reviewer wrote instructions of this task and may not review it."
    return None


class Review(models.Model):
    """One reviewer's check of the samples drawn for one split in one round.

    The primary review of the latest round drives the split's approval gate; a second reviewer's
    review of the same samples is only compared with it (agreement).
    """

    task_split = models.ForeignKey(TaskSplit, on_delete=models.PROTECT, related_name="reviews")
    round = models.PositiveIntegerField()
    role = models.CharField(max_length=8, choices=ReviewRole.choices, default=ReviewRole.PRIMARY)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="qc_reviews")
    seed = models.BigIntegerField(help_text="Seed of the recorded sample draw.")
    sample_ids = models.JSONField(default=list, help_text="The drawn sample ids, in review order.")
    status = models.CharField(max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.OPEN)
    notes = models.TextField(blank=True, help_text="The reviewer's notes when the split is sent back.")
    load_check = models.JSONField(default=dict, blank=True, help_text="Result of the last load check.")
    short_answers = models.CharField(
        max_length=16,
        choices=ShortAnswers.choices,
        blank=True,
        default="",
        help_text="Asked when the split has samples waiting for paraphrasing: what approval does with them.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["task_split", "round", "reviewer"], name="unique_review_round_reviewer"),
            models.UniqueConstraint(fields=["task_split", "round", "role"], name="unique_review_role_per_round"),
        ]

    def __str__(self) -> str:
        return f"{self.task_split} round {self.round} ({self.reviewer})"

    @property
    def is_open(self) -> bool:
        return self.status == ReviewStatus.OPEN

    @property
    def is_primary(self) -> bool:
        return self.role == ReviewRole.PRIMARY

    def check_reviewer(self) -> None:
        """Refuse a reviewer who wrote the task or its instructions (one query)."""
        task = self.task_split.task
        problem = reviewer_conflict(task.pk, task.writer_id, self.reviewer_id)
        if problem:
            raise ValidationError({"reviewer": problem})

    def clean(self) -> None:
        self.check_reviewer()

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if self._state.adding or update_fields is None or "reviewer" in update_fields:
            self.check_reviewer()
        super().save(*args, **kwargs)


class ReviewItem(models.Model):
    """The verdict on one drawn sample."""

    review = models.ForeignKey(Review, on_delete=models.PROTECT, related_name="items")
    sample = models.ForeignKey(Sample, on_delete=models.PROTECT, related_name="review_items")
    position = models.PositiveSmallIntegerField()
    verdict = models.CharField(max_length=10, choices=Verdict.choices, default=Verdict.PENDING)
    problems = models.JSONField(default=list, blank=True, help_text="Problem tags: " + ", ".join(ProblemTag.values))
    comment = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["review", "position"]
        constraints = [
            models.UniqueConstraint(fields=["review", "sample"], name="unique_review_item_sample"),
            models.UniqueConstraint(fields=["review", "position"], name="unique_review_item_position"),
        ]

    def __str__(self) -> str:
        return f"{self.review_id}#{self.position} {self.verdict}"

    @property
    def passes(self) -> bool:
        return self.verdict in PASSING

    def clean(self) -> None:
        unknown = sorted(set(self.problems or []) - set(ProblemTag.values))
        if unknown:
            raise ValidationError({"problems": f"Unknown problem tag(s): {', '.join(unknown)}."})
        if self.verdict == Verdict.REJECTED and not self.comment.strip():
            raise ValidationError({"comment": "A rejection needs a comment: say what is wrong."})

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.clean()
        if self.verdict != Verdict.PENDING:
            # Checked again when a verdict is saved: authorship may have changed since the draw.
            self.review.check_reviewer()
        super().save(*args, **kwargs)


class SampleRevision(models.Model):
    """A reviewer's in-place correction of a sample's inputs or outputs, with both versions kept."""

    sample = models.ForeignKey(Sample, on_delete=models.PROTECT, related_name="qc_revisions")
    item = models.ForeignKey(ReviewItem, null=True, on_delete=models.PROTECT, related_name="revisions")
    editor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    before = models.JSONField(help_text='e.g. {"outputs": "old text"}')
    after = models.JSONField(help_text='e.g. {"outputs": "new text"}')
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("Audit events are append-only: they cannot be updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit events are append-only: they cannot be deleted.")

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        raise PermissionError("Audit events are append-only: they cannot be updated.")


class AuditAction(models.TextChoices):
    DRAW = "draw", "Samples drawn"
    APPROVE = "approve", "Sample approved"
    REJECT = "reject", "Sample rejected"
    CORRECT = "correct", "Sample corrected"
    LOAD_CHECK = "load_check", "Load check"
    SPLIT_APPROVED = "split_approved", "Split approved"
    SPLIT_REJECTED = "split_rejected", "Split sent back"
    SECOND_REQUESTED = "second_requested", "Second reviewer requested"
    REVIEW_SUPERSEDED = "review_superseded", "Open review superseded"
    UNDO = "undo", "Decision undone"
    SUBMIT = "submit", "Review submitted"


class AuditEvent(models.Model):
    """Who did what to which split or sample, when, with before/after. Rows are never changed or removed."""

    task_split = models.ForeignKey(TaskSplit, on_delete=models.PROTECT, related_name="qc_events")
    review = models.ForeignKey(Review, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    item = models.ForeignKey(ReviewItem, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    sample = models.ForeignKey(Sample, null=True, blank=True, on_delete=models.PROTECT, related_name="qc_events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    comment = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["task_split", "id"], name="qc_audit_split_id")]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_id} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("Audit events are append-only: they cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit events are append-only: they cannot be deleted.")
