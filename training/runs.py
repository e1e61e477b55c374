"""Training runs as Jobs: checks before anything starts, the job body, live metrics, cancel and resume.

The loop (training.train) knows nothing of Django: it writes files under the run's folder. The job
body runs it in-process (one process) or as an `accelerate launch` subprocess (more), and a
`Follower` copies what appears in those files into the TrainingRun, its metric rows and the Job's
progress, throttled like every Job progress write. A cancellation noticed at a progress write
asks the loop to stop (a STOP file): it saves a checkpoint and exits; resume starts a new job on
the same folder that carries on from the newest checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import yaml
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from pipeline.jobs.runner import JobCancelled, JobLost, Progress, request_cancel, start_job
from pipeline.models import Export, Job, JobKind, JobStatus

from .config import ConfigError, TrainConfig, config_from_dict, load_config
from .data import DataError, read_manifest, select_tasks
from .model import ModelError, check_model_path
from .models import RunStatus, TrainingMetric, TrainingRun
from .train import STOP_FILE, Reporter, latest_checkpoint, train

TASK_NAME = "training.tasks.train_model"
LOG_TAIL_LINES = 40


class TrainingError(Exception):
    """A run cannot be started, resumed or run; the message says why."""


# --- checks before any work -------------------------------------------------------------------


def export_folder(export: Export) -> Path:
    return Path(settings.EXPORT_ROOT) / export.name


def check_export(export: Export) -> tuple[Path, dict[str, Any]]:
    """A complete export of approved splits whose files are on disk: (folder, manifest)."""
    if not export.completed_at or export.job.status != JobStatus.SUCCEEDED:
        raise TrainingError(f"export {export.name} is not complete (its job is {export.job.status})")
    folder = export_folder(export)
    try:
        manifest = read_manifest(folder)
    except DataError as exc:
        raise TrainingError(f"export {export.name}: {exc}") from exc
    if manifest.get("digest") != export.digest:
        raise TrainingError(f"export {export.name}: the files on disk do not match its digest")
    # The exporter writes approved splits only (checked when it starts and before it publishes).
    return folder, manifest


def check_approved(manifest: dict[str, Any], name: str) -> None:
    """For a folder without an Export row: every split must carry its QC approval in the manifest."""
    unapproved = [
        f"{task['slug']}/{split}"
        for task in manifest.get("tasks", [])
        for split, info in task["splits"].items()
        if not info.get("approved_at")
    ]
    if unapproved:
        raise TrainingError(f"export {name} holds splits without a QC approval: {', '.join(unapproved)}")


def resolve_export(spec: str) -> tuple[Export | None, Path, dict[str, Any]]:
    """An export by id, by name, or by the path of its folder (an Export row, when there is one, is checked)."""
    export = None
    if spec.isdigit():
        export = Export.objects.select_related("job").filter(pk=int(spec)).first()
        if export is None:
            raise TrainingError(f"no export with id {spec}")
    else:
        export = Export.objects.select_related("job").filter(name=Path(spec).name).first()
        if export is not None and Path(spec).name != spec and Path(spec).resolve() != export_folder(export).resolve():
            export = None  # a folder elsewhere that happens to share the name
    if export is not None:
        folder, manifest = check_export(export)
        return export, folder, manifest
    folder = Path(spec)
    try:
        manifest = read_manifest(folder)
    except DataError as exc:
        raise TrainingError(str(exc)) from exc
    check_approved(manifest, folder.name)
    return None, folder, manifest


def check_config(config_spec: str, overrides: dict[str, Any] | None, folder: Path) -> TrainConfig:
    """Load the config and check everything it names: the model path, the tasks, an init checkpoint."""
    try:
        config = load_config(config_spec, overrides)
        if config.model.path is not None:
            check_model_path(config.model.path)
        select_tasks(folder, config.data, index=False)
    except (ConfigError, ModelError, DataError) as exc:
        raise TrainingError(str(exc)) from exc
    if config.model.init_from and not (Path(config.model.init_from) / "trainable.safetensors").is_file():
        raise TrainingError(f"model.init_from: {config.model.init_from} is not a checkpoint folder")
    return config


# --- starting, cancelling, resuming -----------------------------------------------------------


def start_run(
    user: Any, export_spec: str | Export, config_spec: str, overrides: dict[str, Any] | None = None
) -> TrainingRun:
    """Check everything, then create the run and queue its job on the `gpu` queue."""
    if isinstance(export_spec, Export):
        export, (folder, manifest) = export_spec, check_export(export_spec)
    else:
        export, folder, manifest = resolve_export(export_spec)
    config = check_config(config_spec, overrides, folder)
    with transaction.atomic():
        job = start_job(JobKind.TRAIN, TASK_NAME, user=user, params={}, total=None, message="Training queued.")
        run = TrainingRun.objects.create(
            job=job,
            jobs=[job.pk],
            export=export,
            export_name=manifest.get("name") or folder.name,
            export_digest=manifest.get("digest", ""),
            export_path=str(folder.resolve()),
            config_name=config.name,
            config=config.to_dict(),
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        run.run_dir = str(Path(settings.TRAINING_ROOT).resolve() / f"run-{run.pk}")
        run.save(update_fields=["run_dir"])
        Job.objects.filter(pk=job.pk).update(params={"run": run.pk})
    return run


def cancel_run(run: TrainingRun) -> None:
    """Stop at the next progress write (the loop checkpoints first); a queued run ends at once."""
    request_cancel(run.job)
    run.job.refresh_from_db()
    if run.job.status == JobStatus.CANCELLED:  # queued, or its worker is gone: ended at once
        TrainingRun.objects.filter(pk=run.pk, status__in=TrainingRun.ACTIVE).update(
            status=RunStatus.CANCELLED, finished_at=timezone.now()
        )


def resume_run(run: TrainingRun, user: Any) -> TrainingRun:
    """A new job for a cancelled or failed run: it carries on from the newest checkpoint."""
    if run.is_active or not run.job.is_terminal:
        raise TrainingError(f"run #{run.pk} is still {run.status}")
    if run.status == RunStatus.COMPLETED:
        raise TrainingError(f"run #{run.pk} has completed; start a new run to train further")
    if run.export_id:
        check_export(run.export)
    with transaction.atomic():
        job = start_job(
            JobKind.TRAIN, TASK_NAME, user=user, params={"run": run.pk, "resume": True}, message="Resume queued."
        )
        run.job = job
        run.jobs = [*run.jobs, job.pk]
        run.status = RunStatus.QUEUED
        run.error = ""
        run.finished_at = None
        run.save(update_fields=["job", "jobs", "status", "error", "finished_at", "updated_at"])
    return run


# --- following the loop's files ---------------------------------------------------------------


class Follower:
    """Copies the run folder's metrics, checkpoints and start info into the database, throttled."""

    def __init__(self, run: TrainingRun, progress: Progress | Any, min_interval: float | None = None) -> None:
        self.run = run
        self.progress = progress
        self.folder = Path(run.run_dir)
        self.min_interval = settings.JOB_PROGRESS_MIN_INTERVAL if min_interval is None else min_interval
        self.offset = 0
        self.checkpoints_seen = len(run.checkpoints)
        self.cancelled = False
        self.lost = False
        self._last = 0.0
        self._info_loaded = False
        last = run.metrics.order_by("-step").values_list("step", flat=True).first()
        self.last_step = last or 0

    def sync(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.min_interval:
            return
        self._last = now
        run = self.run
        fields = {"updated_at"}
        if not self._info_loaded and (self.folder / "started.json").is_file():
            info = json.loads((self.folder / "started.json").read_text())
            run.info, run.total_steps = info, info["total_steps"]
            # A resumed loop logs again the steps after its checkpoint: those rows are replaced.
            run.metrics.filter(step__gt=info["start_step"]).delete()
            self.last_step = min(self.last_step, info["start_step"])
            fields |= {"info", "total_steps"}
            self._info_loaded = True
            self.offset = 0  # the loop has trimmed metrics.jsonl to its starting step: read it from the top
        points = self._new_metrics() if self._info_loaded else []
        if points:
            TrainingMetric.objects.bulk_create(
                [TrainingMetric(run=run, **p) for p in points if p["step"] > self.last_step], ignore_conflicts=True
            )
            last = points[-1]
            self.last_step = max(self.last_step, last["step"])
            run.step, run.last_loss, run.samples_per_s = last["step"], last["loss"], last["samples_per_s"]
            run.gpu_mem_gb = last.get("gpu_mem_gb")
            fields |= {"step", "last_loss", "samples_per_s", "gpu_mem_gb"}
        checkpoints = self._read_lines("checkpoints.jsonl")
        if checkpoints or self.checkpoints_seen:
            self.checkpoints_seen = len(checkpoints)
            kept = {}  # the loop deletes old ones (keep_checkpoints); a step saved twice counts once
            for entry in checkpoints:
                if Path(entry["path"]).exists():
                    kept[entry["step"]] = {"step": entry["step"], "path": entry["path"], "bytes": entry["bytes"]}
            run.checkpoints = [kept[step] for step in sorted(kept)]
            fields.add("checkpoints")
        TrainingRun.objects.filter(pk=run.pk).update(
            **{f: getattr(run, f) for f in fields if f != "updated_at"}, updated_at=timezone.now()
        )
        loss = f" · loss {run.last_loss:.4f}" if run.last_loss is not None else ""
        try:
            self.progress.update(
                done=run.step,
                total=run.total_steps,
                message=f"step {run.step}/{run.total_steps or '?'}{loss}",
                force=force,
                loss=run.last_loss,
                samples_per_s=run.samples_per_s,
            )
        except JobCancelled:
            self.cancelled = True
        except JobLost:
            self.lost = True

    def _read_lines(self, name: str) -> list[dict[str, Any]]:
        path = self.folder / name
        if not path.exists():
            return []
        return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]

    def _new_metrics(self) -> list[dict[str, Any]]:
        path = self.folder / "metrics.jsonl"
        if not path.exists():
            return []
        with open(path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits for the next sync
        self.offset += len(complete)
        keys = ("step", "epoch", "loss", "lr", "grad_norm", "samples_per_s", "tokens_per_s", "gpu_mem_gb")
        return [{k: rec.get(k) for k in keys} for rec in map(orjson.loads, complete.splitlines()) if rec]


class FollowingReporter(Reporter):
    """The loop's file reporter, syncing the database after each write (in-process runs)."""

    def __init__(self, run_dir: Path, follower: Follower) -> None:
        super().__init__(run_dir)
        self.follower = follower

    def metrics(self, record: dict[str, Any]) -> None:
        super().metrics(record)
        self.follower.sync()

    def checkpoint(self, record: dict[str, Any]) -> None:
        super().checkpoint(record)
        self.follower.sync(force=True)

    def should_stop(self) -> bool:
        return super().should_stop() or self.follower.cancelled or self.follower.lost


# --- the job body -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_command(config: TrainConfig, export_dir: Path, run_dir: Path, resume: bool) -> list[str]:
    """`accelerate launch` for several processes (DDP; FSDP or DeepSpeed through an accelerate config)."""
    command = [sys.executable, "-m", "accelerate.commands.launch"]
    if config.run.accelerate_config:
        command += ["--config_file", config.run.accelerate_config]
    else:
        command += ["--multi_gpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    command += ["--num_processes", str(config.run.num_processes), "--main_process_port", str(_free_port())]
    command += ["-m", "training.train", "--export", str(export_dir), "--config", str(run_dir / "config.yaml")]
    command += ["--run-dir", str(run_dir)]
    return command + (["--resume"] if resume else [])


def _run_subprocess(config: TrainConfig, run: TrainingRun, follower: Follower, resume: bool) -> dict[str, Any]:
    run_dir = Path(run.run_dir)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}
    if config.run.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    with open(run_dir / "launcher.log", "ab") as log:
        proc = subprocess.Popen(
            launch_command(config, Path(run.export_path), run_dir, resume),
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while proc.poll() is None:
                follower.sync()
                if follower.cancelled or follower.lost:
                    (run_dir / STOP_FILE).touch()
                time.sleep(0.2)
        except BaseException:
            os.killpg(proc.pid, signal.SIGTERM)
            raise
    if proc.returncode != 0:
        tail = (run_dir / "launcher.log").read_text(errors="replace").splitlines()[-15:]
        raise TrainingError(f"accelerate launch exited with {proc.returncode}:\n" + "\n".join(tail))
    return json.loads((run_dir / "summary.json").read_text())


def execute(job: Job, progress: Progress | Any) -> dict[str, Any]:
    """The body of the training job: train (or carry on), keep the run's row current, end it."""
    run = TrainingRun.objects.select_related("export").get(pk=job.params["run"])
    run_dir = Path(run.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / STOP_FILE).unlink(missing_ok=True)
    (run_dir / "started.json").unlink(missing_ok=True)  # the loop writes it afresh when it (re)starts
    config = config_from_dict(run.config)
    manifest = read_manifest(Path(run.export_path))
    if manifest.get("digest") != run.export_digest:
        raise TrainingError("the export's files changed since the run started (digest differs)")
    resume = latest_checkpoint(run_dir) is not None  # a resumed or redelivered job carries on
    TrainingRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, error="", updated_at=timezone.now())
    follower = Follower(run, progress)
    try:
        if config.run.num_processes > 1:
            summary = _run_subprocess(config, run, follower, resume)
        else:
            summary = train(
                config, Path(run.export_path), run_dir, resume=resume, reporter=FollowingReporter(run_dir, follower)
            )
        follower.sync(force=True)
    except BaseException as exc:
        if isinstance(exc, JobCancelled | JobLost):
            raise
        TrainingRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:5000], finished_at=timezone.now()
        )
        raise
    if follower.lost:
        raise JobLost()
    cancelled = summary["status"] == "stopped"
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.CANCELLED if cancelled else RunStatus.COMPLETED,
        final_loss=None if cancelled else summary["final_loss"],
        step=summary["step"],
        finished_at=timezone.now(),
    )
    if cancelled:
        raise JobCancelled()
    return {"run": run.pk, **summary}


def log_tail(run: TrainingRun, lines: int = LOG_TAIL_LINES) -> str:
    """The end of the loop's log (and of the launcher's, for several processes)."""
    out = []
    for name in ("train.log", "launcher.log"):
        path = Path(run.run_dir) / name
        if path.is_file():
            with open(path, "rb") as handle:
                handle.seek(max(0, path.stat().st_size - 64 * 1024))
                out += handle.read().decode(errors="replace").splitlines()[-lines:]
    return "\n".join(out[-lines:])


def metrics_payload(run: TrainingRun, after: int = 0) -> dict[str, Any]:
    """What the run page polls: the run's state and the metric points after step `after`."""
    points = list(run.metrics.filter(step__gt=after).values_list("step", "loss", "lr", "samples_per_s", "tokens_per_s"))
    return {
        "status": run.status,
        "job_status": run.job.status,
        "step": run.step,
        "total_steps": run.total_steps,
        "percent": run.percent,
        "last_loss": run.last_loss,
        "final_loss": run.final_loss,
        "samples_per_s": run.samples_per_s,
        "gpu_mem_gb": run.gpu_mem_gb,
        "checkpoints": run.checkpoints,
        "error": run.error,
        "points": [
            {"step": s, "loss": loss, "lr": lr, "samples_per_s": sps, "tokens_per_s": tps}
            for s, loss, lr, sps, tps in points
        ],
        "log_tail": log_tail(run),
    }
