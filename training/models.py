"""Training runs: which export (by digest) and config a run used, where it stands, what it wrote.
Evaluations of runs or served models, their per-record predictions, pairwise LLM judgements and
ablation series (one run and one evaluation per point)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from pipeline.models import Export, Job


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class TrainingRun(models.Model):
    """One training curve; a cancelled or failed run can be resumed by a new job on the same folder."""

    ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)

    job = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="training_runs", help_text="The latest job.")
    jobs = models.JSONField(default=list, blank=True, help_text="Ids of every job of the run, oldest first.")
    export = models.ForeignKey(Export, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_runs")
    export_name = models.CharField(max_length=100)
    export_digest = models.CharField(max_length=64)
    export_path = models.CharField(max_length=500)
    config_name = models.CharField(max_length=100)
    config = models.JSONField(help_text="The resolved config the run trains with.")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    run_dir = models.CharField(max_length=500, blank=True)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(null=True, blank=True)
    last_loss = models.FloatField(null=True, blank=True)
    final_loss = models.FloatField(null=True, blank=True)
    samples_per_s = models.FloatField(null=True, blank=True)
    gpu_mem_gb = models.FloatField(null=True, blank=True)
    info = models.JSONField(default=dict, blank=True, help_text="Processes, device, parameters, records...")
    checkpoints = models.JSONField(default=list, blank=True, help_text="[{step, path, bytes}], oldest first.")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="training_runs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"run #{self.pk} {self.config_name} on {self.export_name} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.step / self.total_steps, 1) if self.total_steps else None

    @property
    def last_checkpoint(self) -> dict | None:
        return self.checkpoints[-1] if self.checkpoints else None


class TrainingMetric(models.Model):
    """One logged optimizer step of a run."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="metrics")
    step = models.PositiveIntegerField()
    epoch = models.FloatField(default=0)
    loss = models.FloatField()
    lr = models.FloatField()
    grad_norm = models.FloatField(null=True)
    samples_per_s = models.FloatField(null=True)
    tokens_per_s = models.FloatField(null=True)
    gpu_mem_gb = models.FloatField(null=True)

    class Meta:
        ordering = ["run", "step"]
        constraints = [models.UniqueConstraint(fields=["run", "step"], name="unique_training_metric_step")]


# --- evaluation (issue 13) -------------------------------------------------------------------


class Backend(models.TextChoices):
    RUN = "run", "Training run"
    ENDPOINT = "endpoint", "OpenAI-compatible endpoint"
    HF = "hf", "Hugging Face model path"


class EvalSplit(models.TextChoices):
    VAL = "val", "val"
    TEST = "test", "test"


class Evaluation(models.Model):
    """One model (a run at a checkpoint, or an endpoint model) answering one split of an export."""

    name = models.CharField(max_length=200)
    backend = models.CharField(max_length=10, choices=Backend.choices)
    training_run = models.ForeignKey(
        TrainingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="evaluations"
    )
    checkpoint = models.PositiveIntegerField(null=True, blank=True, help_text="Step; empty: the run's last.")
    model_name = models.CharField(max_length=300, blank=True, help_text="Endpoint model name or model path.")
    export = models.ForeignKey(Export, null=True, blank=True, on_delete=models.SET_NULL, related_name="evaluations")
    export_path = models.CharField(max_length=500, help_text="The export folder read.")
    split = models.CharField(max_length=5, choices=EvalSplit.choices, default=EvalSplit.VAL)
    tasks = models.JSONField(default=list, blank=True, help_text="Task slugs; empty: every task of the split.")
    options = models.JSONField(default=dict, blank=True)
    results = models.JSONField(default=dict, blank=True, help_text="ROUGE-L per task and per group.")
    job = models.OneToOneField(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="evaluation")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"

    @property
    def status(self) -> str:
        return self.job.status if self.job else "new"


class Prediction(models.Model):
    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="predictions")
    task = models.CharField(max_length=80)
    split = models.CharField(max_length=5)
    record_id = models.CharField(max_length=200)
    prompt = models.TextField()
    prediction = models.TextField()
    reference = models.TextField()
    rouge_l = models.FloatField()

    class Meta:
        ordering = ["evaluation", "task", "id"]
        constraints = [
            models.UniqueConstraint(fields=["evaluation", "task", "record_id"], name="unique_prediction_record")
        ]
        indexes = [models.Index(fields=["evaluation", "task"], name="prediction_eval_task")]


class Verdict(models.TextChoices):
    WIN = "win", "A wins"
    TIE = "tie", "Tie"
    LOSS = "loss", "B wins"
    UNDECIDED = "undecided", "No valid score"


class JudgeComparison(models.Model):
    """Evaluation A against B, judged pairwise by an LLM on the records both answered."""

    evaluation_a = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="+")
    evaluation_b = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=200)
    tasks = models.JSONField(default=list, blank=True)
    limit = models.PositiveIntegerField(null=True, blank=True, help_text="Records judged at most (seeded draw).")
    samples_per_order = models.PositiveSmallIntegerField(default=3)
    budget_usd = models.FloatField(null=True, blank=True)
    estimate = models.JSONField(default=dict, blank=True, help_text="Requests, tokens and cost before the run.")
    spent_usd = models.FloatField(default=0.0)
    counts = models.JSONField(default=dict, blank=True, help_text="wins, ties, losses, undecided, samples...")
    job = models.OneToOneField(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="judge")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]


class JudgeRecord(models.Model):
    comparison = models.ForeignKey(JudgeComparison, on_delete=models.CASCADE, related_name="records")
    task = models.CharField(max_length=80)
    record_id = models.CharField(max_length=200)
    question = models.TextField()
    reference = models.TextField()
    answer_a = models.TextField()
    answer_b = models.TextField()
    score_a = models.FloatField(null=True, blank=True, help_text="Mean of the valid samples (up to six).")
    score_b = models.FloatField(null=True, blank=True)
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    samples = models.JSONField(default=list, help_text="Per order and sample: scores, status, attempts.")

    class Meta:
        ordering = ["comparison", "task", "id"]
        constraints = [models.UniqueConstraint(fields=["comparison", "task", "record_id"], name="unique_judge_record")]


class JudgeCache(models.Model):
    """One valid judge reply per (model, prompt version, messages, sample number): a rerun pays nothing."""

    key = models.CharField(max_length=64, unique=True)
    model = models.CharField(max_length=200)
    response = models.TextField()
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)


class AblationKind(models.TextChoices):
    TASKS = "tasks", "Number of tasks"
    INSTRUCTIONS = "instructions", "Instructions per task"


class AblationSeries(models.Model):
    """Figure 5 (task count) or Figure 6 (instructions per task): one training run and one evaluation per point."""

    kind = models.CharField(max_length=12, choices=AblationKind.choices)
    config = models.CharField(max_length=200, default="tiny")
    export = models.ForeignKey(Export, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    export_path = models.CharField(max_length=500)
    split = models.CharField(max_length=5, choices=EvalSplit.choices, default=EvalSplit.VAL)
    eval_tasks = models.JSONField(default=list, blank=True)
    counts = models.JSONField(default=list)
    seed = models.IntegerField(default=0)
    max_per_task = models.PositiveIntegerField(default=5000)
    options = models.JSONField(default=dict, blank=True)
    job = models.OneToOneField(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="ablation")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "ablation series"


class PointStatus(models.TextChoices):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class AblationPoint(models.Model):
    series = models.ForeignKey(AblationSeries, on_delete=models.CASCADE, related_name="points")
    count = models.PositiveIntegerField(help_text="Tasks (kind=tasks) or instructions per task.")
    status = models.CharField(max_length=8, choices=PointStatus.choices, default=PointStatus.PENDING)
    train_tasks = models.JSONField(default=list, blank=True)
    train_examples = models.PositiveIntegerField(default=0)
    training_run = models.ForeignKey(TrainingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    evaluation = models.ForeignKey(Evaluation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    score = models.FloatField(null=True, blank=True, help_text="Mean ROUGE-L (0-1) over the evaluated tasks.")
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["series", "count"]
        constraints = [models.UniqueConstraint(fields=["series", "count"], name="unique_ablation_point")]
