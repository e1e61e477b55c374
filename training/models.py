"""Training runs: which export (by digest) and config a run used, where it stands, what it wrote."""

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
