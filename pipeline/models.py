"""Images, samples in the unified M3IT record, long-running jobs, exports and translations."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from annotator.models import Instruction, Split, Task


class Image(models.Model):
    """An image file stored once under its sha256; derived images (boxes drawn) point at their source."""

    sha256 = models.CharField(max_length=64, unique=True)
    file = models.FileField(upload_to="images/", max_length=200)
    format = models.CharField(max_length=10, help_text="PNG, JPEG, WEBP, GIF, BMP.")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    derived_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="derivatives"
    )
    derivation = models.JSONField(default=dict, blank=True, help_text='e.g. {"boxes": [[x0, y0, x1, y1]]}')
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.sha256[:12]} {self.format} {self.width}x{self.height}"


class ParaphraseState(models.TextChoices):
    PENDING = "pending", _("Not paraphrased")
    ACCEPTED = "accepted", _("Paraphrase accepted")
    FALLBACK = "fallback", _("Template fallback")
    FAILED = "failed", _("Failed")
    NOT_NEEDED = "not_needed", _("Not needed (output is already a sentence)")


class SampleQCState(models.TextChoices):
    UNCHECKED = "unchecked", _("Not checked")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    CORRECTED = "corrected", _("Corrected")


class Sample(models.Model):
    """One instance in the unified record: images, instruction, inputs, outputs, meta."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="samples")
    split = models.CharField(max_length=5, choices=Split.choices)
    source_id = models.CharField(max_length=255, help_text="Stable id in the source dataset (idempotent imports).")
    images = models.ManyToManyField(Image, through="SampleImage", related_name="samples")
    instruction = models.ForeignKey(
        Instruction, null=True, blank=True, on_delete=models.SET_NULL, related_name="samples"
    )
    instruction_seed = models.BigIntegerField(null=True, blank=True, help_text="Seed of the recorded instruction draw.")
    inputs = models.TextField(blank=True)
    outputs = models.TextField(blank=True)
    original_output = models.TextField(blank=True, help_text="The source dataset's answer before paraphrasing.")
    meta = models.JSONField(default=dict, blank=True)
    paraphrase_state = models.CharField(
        max_length=12, choices=ParaphraseState.choices, default=ParaphraseState.NOT_NEEDED
    )
    paraphrase = models.JSONField(
        default=dict,
        blank=True,
        help_text="Provenance: model, prompt_version, attempts, tokens_in, tokens_out, latency, outcome, reason, raw.",
    )
    qc_state = models.CharField(max_length=10, choices=SampleQCState.choices, default=SampleQCState.UNCHECKED)
    import_job = models.ForeignKey("Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "split", "source_id"], name="unique_sample_source"),
        ]
        indexes = [
            models.Index(fields=["task", "split", "id"], name="sample_task_split_id"),
            models.Index(fields=["paraphrase_state", "id"], name="sample_paraphrase_state"),
        ]

    def __str__(self) -> str:
        return f"{self.task.slug}/{self.split}/{self.source_id}"


class SampleImage(models.Model):
    """Orders a sample's images: one image, several, or the 8 frames of a video."""

    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="sample_images")
    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["sample", "position"]
        constraints = [models.UniqueConstraint(fields=["sample", "position"], name="unique_sample_image_position")]


class JobKind(models.TextChoices):
    DEMO = "demo", _("Demo")
    IMPORT = "import", _("Import")
    PARAPHRASE = "paraphrase", _("Paraphrase answers")
    TRANSLATE = "translate", _("Translate")
    EXPORT = "export", _("Export")
    TRAIN = "train", _("Train")
    EVALUATE = "evaluate", _("Evaluate")
    JUDGE = "judge", _("LLM judge")
    ABLATE = "ablate", _("Ablation series")
    DELETE = "delete", _("Delete samples")


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class Job(models.Model):
    """The one record of every long step; a Celery task moves it through its states (pipeline.jobs.runner)."""

    TERMINAL = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)

    kind = models.CharField(max_length=12, choices=JobKind.choices)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    task_name = models.CharField(max_length=200, help_text="Dotted name of the Celery task that runs it.")
    queue = models.CharField(max_length=20, default="default")
    params = models.JSONField(default=dict, blank=True)
    done = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(null=True, blank=True)
    counters = models.JSONField(default=dict, blank=True, help_text="Live counts, e.g. created/skipped/rejected.")
    message = models.CharField(
        max_length=500, blank=True, help_text="In English; with message_args, a msgid with %(name)s placeholders."
    )
    message_args = models.JSONField(null=True, blank=True, help_text="Arguments of a translatable message.")
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    celery_task_id = models.CharField(max_length=64, blank=True)
    task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="jobs")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When its message last went to the broker (None: never sent yet)."
    )

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="job_status_heartbeat")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def warning(self) -> str:
        """A job that succeeded without doing what was asked (an import that created nothing) says why."""
        return str((self.result or {}).get("warning") or "") if self.status == JobStatus.SUCCEEDED else ""

    @property
    def display_status(self) -> str:
        """The status the pages show: "warning" instead of a green "succeeded" when `warning` is set."""
        return "warning" if self.warning else self.status

    @property
    def percent(self) -> float | None:
        if not self.total:
            return 100.0 if self.status == JobStatus.SUCCEEDED else None
        return round(100.0 * min(self.done, self.total) / self.total, 1)

    @property
    def display_message(self) -> str:
        """The message in the reader's language: workers write English msgids (and arguments), never
        translated text, so a job started in one language reads right in another."""
        if not self.message:
            return ""
        text = gettext(self.message)
        if not self.message_args:
            return text
        try:
            return text % self.message_args
        except (KeyError, TypeError, ValueError):  # a catalogue entry that lost a placeholder
            return self.message % self.message_args


class Export(models.Model):
    """An export of approved splits in M3IT's layout, written by a job under EXPORT_ROOT."""

    job = models.OneToOneField(Job, on_delete=models.PROTECT, related_name="export")
    name = models.CharField(max_length=100, unique=True, help_text="Folder name under EXPORT_ROOT.")
    requested = models.JSONField(default=dict, blank=True, help_text="What the admin asked for.")
    included = models.JSONField(default=list, blank=True, help_text="Splits written, with counts.")
    excluded = models.JSONField(default=list, blank=True, help_text="Asked-for splits left out, with the reason.")
    translated = models.JSONField(
        default=list, blank=True, help_text="M3IT-80 files (translated splits, English sources, pools) written."
    )
    digest = models.CharField(max_length=64, blank=True, help_text="sha256 over all files, in path order.")
    size_bytes = models.PositiveBigIntegerField(default=0)
    file_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name


class ParaphraseCache(models.Model):
    """One paid LLM answer per (prompt version, model, question, answer, context) key."""

    key = models.CharField(max_length=64, unique=True)
    model = models.CharField(max_length=100)
    prompt_version = models.CharField(max_length=20)
    response = models.TextField()
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)


class ParaphraseBudget(models.Model):
    """The spending ledger of one paraphrase job, shared by every worker that runs its chunks.

    Amounts are micro-dollars. A chunk reserves the worst case of its requests before sending them
    (a conditional UPDATE, so workers cannot overspend together) and turns the reservation into
    the real cost as responses arrive.
    """

    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="paraphrase_budget")
    limit_micro_usd = models.BigIntegerField(null=True, blank=True, help_text="None: no cap.")
    reserved_micro_usd = models.BigIntegerField(default=0)
    spent_micro_usd = models.BigIntegerField(default=0)

    @property
    def spent_usd(self) -> float:
        return self.spent_micro_usd / 1e6

    @property
    def reserved_usd(self) -> float:
        return self.reserved_micro_usd / 1e6


# --- Stage IV: translation (pipeline.translation) ---------------------------------------------


class Language(models.Model):
    """A target language of Stage IV. The paper's 80 are seeded by a data migration; adding one is a row."""

    code = models.CharField(max_length=12, unique=True, help_text="Short code used in file names, e.g. fr, fuv.")
    nllb_code = models.CharField(max_length=16, unique=True, help_text="NLLB/FLORES-200 code, e.g. fra_Latn.")
    name = models.CharField(max_length=100)
    script = models.CharField(max_length=8, help_text="ISO 15924 script of the NLLB code, e.g. Latn, Arab.")
    rtl = models.BooleanField(default=False, help_text="Written right to left (shown with dir=rtl).")
    flores_bleu = models.FloatField(null=True, blank=True, help_text="English->X BLEU on FLORES (score_languages).")
    flores_scored_at = models.DateTimeField(null=True, blank=True)
    flores_model = models.CharField(max_length=300, blank=True, help_text="The model that got flores_bleu.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return f"{self.code} ({self.nllb_code})"

    @property
    def passes(self) -> bool | None:
        """The paper's rule (BLEU > TRANSLATION_MIN_BLEU); None while it has not been scored here."""
        if self.flores_bleu is None:
            return None
        return self.flores_bleu > settings.TRANSLATION_MIN_BLEU


class TranslationSelection(models.Model):
    """The English source samples of one (task, split) chosen for translation: seeded and recorded,
    so the translated set can be rebuilt and every run translates the same rows."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="translation_selections")
    split = models.CharField(max_length=5, choices=Split.choices)
    seed = models.BigIntegerField()
    limit = models.PositiveIntegerField(null=True, blank=True, help_text="None: the whole split.")
    split_size = models.PositiveIntegerField(help_text="Samples in the split when the selection was drawn.")
    sample_ids = models.JSONField(default=list, help_text="Chosen sample ids, ascending.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task", "split"]
        constraints = [models.UniqueConstraint(fields=["task", "split"], name="unique_translation_selection")]

    def __str__(self) -> str:
        return f"{self.task.slug}/{self.split}: {len(self.sample_ids)} samples"


class Translation(models.Model):
    """One sample in one language: its instruction, inputs and outputs translated, and how."""

    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="translations")
    language = models.ForeignKey(Language, on_delete=models.PROTECT, related_name="translations")
    instruction = models.TextField(blank=True)
    inputs = models.TextField(blank=True)
    outputs = models.TextField(blank=True)
    backend = models.CharField(max_length=20)
    model = models.CharField(max_length=300)
    seconds = models.FloatField(default=0.0, help_text="Model time spent on this sample's new strings.")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sample", "language"]
        constraints = [models.UniqueConstraint(fields=["sample", "language"], name="unique_sample_translation")]
        indexes = [models.Index(fields=["language", "sample"], name="translation_language_sample")]

    def __str__(self) -> str:
        return f"{self.sample_id} -> {self.language_id}"


class TranslatedInstruction(models.Model):
    """One instruction of a task's pool in one language (the translated pool of (task, language))."""

    instruction = models.ForeignKey(Instruction, on_delete=models.CASCADE, related_name="translations")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="translated_instructions")
    language = models.ForeignKey(Language, on_delete=models.PROTECT, related_name="instructions")
    text = models.TextField()
    backend = models.CharField(max_length=20)
    model = models.CharField(max_length=300)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task", "language", "instruction"]
        constraints = [
            models.UniqueConstraint(fields=["instruction", "language"], name="unique_instruction_translation")
        ]


class TranslationCache(models.Model):
    """Every string a model translated, by (backend, model, language, sha256 of the text): no rerun
    and no second task pays for the same string twice."""

    backend = models.CharField(max_length=20)
    model = models.CharField(max_length=300)
    language = models.CharField(max_length=16, help_text="NLLB code of the target.")
    text_hash = models.CharField(max_length=64)
    source = models.TextField()
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["backend", "model", "language", "text_hash"], name="unique_translation_cache"
            )
        ]


class TranslationUnusable(models.Model):
    """A reviewer's verdict that a task's translation into a language is not usable: kept out of exports."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="unusable_translations")
    language = models.ForeignKey(Language, on_delete=models.CASCADE, related_name="unusable_marks")
    note = models.TextField()
    marked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    marked_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "language"], name="unique_unusable_translation")]
