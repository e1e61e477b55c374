"""Tasks of the M3IT registry, their splits and their instruction pools (Stage I)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Group(models.TextChoices):
    """The paper's eight task groups (Table 3), not the published folders."""

    CAPTIONING = "captioning", _("Image Captioning")
    CLASSIFICATION = "classification", _("Classification")
    VQA = "vqa", _("Visual Question Answering")
    KVQA = "kvqa", _("Knowledgeable VQA")
    REASONING = "reasoning", _("Reasoning")
    GENERATION = "generation", _("Generation")
    CHINESE = "chinese", _("Chinese")
    VIDEO = "video", _("Video")


class Folder(models.TextChoices):
    """The top-level folders of the published dataset (`data/<folder>/<task_dir>`)."""

    CAPTIONING = "captioning"
    CLASSIFICATION = "classification"
    VQA = "vqa"
    REASONING = "reasoning"
    GENERATION = "generation"


class Modality(models.TextChoices):
    IMAGE = "image", _("Image")
    VIDEO = "video", _("Video")


class Split(models.TextChoices):
    TRAIN = "train"
    VAL = "val"
    TEST = "test"


class PoolStatus(models.TextChoices):
    """Where a task's instruction pool stands in Stage I."""

    OPEN = "open", _("Being written")
    SUBMITTED = "submitted", _("Submitted (locked)")
    RETURNED = "returned", _("Returned with comments")


class TaskQuerySet(models.QuerySet):
    def with_instruction_counts(self) -> TaskQuerySet:
        return self.annotate(instruction_count=models.Count("instructions"))


class Task(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    group = models.CharField(max_length=20, choices=Group.choices)
    folder = models.CharField(max_length=20, choices=Folder.choices)
    task_dir = models.CharField(max_length=100, help_text="Directory name under data/<folder>/.")
    modality = models.CharField(max_length=10, choices=Modality.choices, default=Modality.IMAGE)
    language = models.CharField(max_length=10, default="en", help_text="ISO 639-1 code, e.g. en, zh.")
    source = models.CharField(max_length=200, blank=True)
    licence = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    held_in = models.BooleanField(default=True, help_text="Used for instruction tuning (held-in).")
    translated = models.BooleanField(default=False, help_text="A key task translated into 80 languages.")
    published_train = models.PositiveIntegerField(default=0)
    published_val = models.PositiveIntegerField(default=0)
    published_test = models.PositiveIntegerField(default=0)
    writer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="written_tasks"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="reviewed_tasks"
    )
    pool_status = models.CharField(max_length=12, choices=PoolStatus.choices, default=PoolStatus.OPEN)
    return_comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["group", "slug"]
        constraints = [
            models.CheckConstraint(condition=~Q(writer=F("reviewer")), name="task_writer_is_not_reviewer"),
        ]

    def __str__(self) -> str:
        return self.slug

    def _check_distinct(self) -> None:
        if self.writer_id and self.writer_id == self.reviewer_id:
            raise ValidationError(
                {"reviewer": "The reviewer of a task must not be the person who writes its instructions."}
            )

    def check_roles(self) -> None:
        """A newly assigned writer must be an annotator, a reviewer a reviewer (forms, Django admin, API).

        Only changed assignments are checked, so an old one (the person left the group since) does not
        block other edits; the task page warns about it."""
        from . import roles  # roles imports nothing of ours; kept local to leave the model module light

        stored = Task.objects.filter(pk=self.pk).values("writer_id", "reviewer_id").first() if self.pk else None
        errors = {}
        for field in roles.ASSIGNMENT_ROLES:
            user_id = getattr(self, f"{field}_id")
            if user_id is None or (stored and stored[f"{field}_id"] == user_id):
                continue
            problem = roles.assignment_problem(getattr(self, field), field)
            if problem:
                errors[field] = problem
        if errors:
            raise ValidationError(errors)

    def clean(self) -> None:
        self._check_distinct()
        self.check_roles()

    def save(self, *args: object, **kwargs: object) -> None:
        self._check_distinct()
        super().save(*args, **kwargs)

    @property
    def is_chinese(self) -> bool:
        return self.language == "zh"

    @property
    def pool_locked(self) -> bool:
        return self.pool_status == PoolStatus.SUBMITTED

    def published_count(self, split: str) -> int:
        return getattr(self, f"published_{split}")


class UserSettings(models.Model):
    """What a person chose for themselves (today: the interface language)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="interface")
    language = models.CharField(max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)

    def __str__(self) -> str:
        return f"{self.user}: {self.language}"


class QCStatus(models.TextChoices):
    PENDING = "pending", _("Not reviewed")
    IN_REVIEW = "in_review", _("In review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class TaskSplitQuerySet(models.QuerySet):
    def reopen_for_review(self, reason: str) -> int:
        """Content changed after QC looked at it (new samples, rewritten outputs): back to review.

        QC approved (or is reviewing) what it saw; anything written since has not been checked, so an
        approved or in-review split goes back to pending with the reason. An open review of a reopened
        split can no longer decide (qc refuses it and the next start supersedes it). Returns how many
        splits were reopened.
        """
        return self.filter(qc_status__in=[QCStatus.APPROVED, QCStatus.IN_REVIEW]).update(
            qc_status=QCStatus.PENDING, approved_by=None, approved_at=None, qc_notes=reason, updated_at=timezone.now()
        )


class TaskSplit(models.Model):
    """One split of one task. Its QC status is the approval gate that exports read."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="splits")
    split = models.CharField(max_length=5, choices=Split.choices)
    qc_status = models.CharField(max_length=10, choices=QCStatus.choices, default=QCStatus.PENDING)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    qc_notes = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Counts of the split's samples, kept beside the data so that no page counts rows: every write that
    # adds, removes or moves samples between states applies its deltas in the same transaction
    # (pipeline.samples.counts), and `manage.py recount` rebuilds them from the rows.
    sample_count = models.PositiveBigIntegerField(default=0)
    paraphrase_pending = models.PositiveBigIntegerField(default=0)
    paraphrase_accepted = models.PositiveBigIntegerField(default=0)
    paraphrase_fallback = models.PositiveBigIntegerField(default=0)
    paraphrase_failed = models.PositiveBigIntegerField(default=0)
    paraphrase_not_needed = models.PositiveBigIntegerField(default=0)
    qc_unchecked = models.PositiveBigIntegerField(default=0)
    qc_approved = models.PositiveBigIntegerField(default=0)
    qc_rejected = models.PositiveBigIntegerField(default=0)
    qc_corrected = models.PositiveBigIntegerField(default=0)
    pending_corrected = models.PositiveBigIntegerField(
        default=0, help_text="Samples still waiting for a paraphrase that QC corrected (never paraphrased)."
    )

    objects = TaskSplitQuerySet.as_manager()

    COUNTERS = (
        "sample_count",
        "paraphrase_pending",
        "paraphrase_accepted",
        "paraphrase_fallback",
        "paraphrase_failed",
        "paraphrase_not_needed",
        "qc_unchecked",
        "qc_approved",
        "qc_rejected",
        "qc_corrected",
        "pending_corrected",
    )

    class Meta:
        ordering = ["task__slug", "split"]
        constraints = [models.UniqueConstraint(fields=["task", "split"], name="unique_task_split")]

    def __str__(self) -> str:
        return f"{self.task.slug}/{self.split}"

    @property
    def is_approved(self) -> bool:
        return self.qc_status == QCStatus.APPROVED

    @property
    def paraphrase_waiting(self) -> int:
        """Samples a paraphrase run would take: pending, except those QC corrected."""
        return self.paraphrase_pending - self.pending_corrected


class Instruction(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="instructions")
    text = models.TextField()
    normalized = models.TextField(editable=False, help_text="Whitespace- and case-folded text, for duplicates.")
    position = models.PositiveIntegerField(default=0)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="instructions"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["task", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "normalized"], name="unique_instruction_per_task"),
        ]

    def __str__(self) -> str:
        return self.text[:60]

    @staticmethod
    def normalize(text: str) -> str:
        return " ".join(text.split()).casefold()

    def save(self, *args: object, **kwargs: object) -> None:
        self.text = self.text.strip()
        self.normalized = self.normalize(self.text)
        super().save(*args, **kwargs)


class InstructionEvent(models.Model):
    """Append-only history of a task's instruction pool: who changed what, before and after."""

    class Action(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        DELETE = "delete"
        REORDER = "reorder"
        SUBMIT = "submit"
        RETURN = "return"
        UNLOCK = "unlock"
        IMPORT = "import"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="instruction_events")
    instruction = models.ForeignKey(Instruction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    comment = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
