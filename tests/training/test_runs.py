"""Training runs as jobs: checks before any work, a tiny run end to end, resume, two processes, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from pipeline.jobs.runner import run_job
from pipeline.models import Job, JobKind, JobStatus
from training import runs
from training.config import load_config
from training.models import RunStatus, TrainingMetric, TrainingRun
from training.tasks import train_model
from training.train import Reporter, train

from .export_data import build_training_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def exported(settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path / "exports"
    settings.TRAINING_ROOT = tmp_path / "training"
    return build_training_dataset()


def _losses(run_dir: Path) -> dict[int, float]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return {rec["step"]: rec["loss"] for rec in map(json.loads, lines)}


# --- bad input: each a clear error before any work starts ---------------------------------------


def test_bad_input_is_refused_before_any_job_exists(exported, tmp_path):
    export = exported["export"]
    admin = exported["admin"]
    with pytest.raises(runs.TrainingError, match=r"unknown config key\(s\) optim\.lrr"):
        runs.start_run(admin, export, "tiny", {"optim": {"lrr": 1}})
    with pytest.raises(runs.TrainingError, match=r"task\(s\) not in the export: nope"):
        runs.start_run(admin, export, "tiny", {"data": {"tasks": ["caps", "nope"]}})
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    with pytest.raises(runs.TrainingError, match="no model config at"):
        runs.start_run(admin, export, "stage2", {"model": {"path": str(empty)}})
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(runs.TrainingError, match="holds a 'bert' model, not a BLIP-2"):
        runs.start_run(admin, export, "stage2", {"model": {"path": str(tmp_path / "bert")}})
    with pytest.raises(runs.TrainingError, match="no config 'nope'"):
        runs.start_run(admin, export, "nope")

    Job.objects.filter(pk=export.job_id).update(status=JobStatus.RUNNING)
    export.job.refresh_from_db()
    with pytest.raises(runs.TrainingError, match="is not complete"):
        runs.start_run(admin, export, "tiny")
    Job.objects.filter(pk=export.job_id).update(status=JobStatus.SUCCEEDED)
    export.job.refresh_from_db()

    copy = tmp_path / "copied-export"  # a folder that is not an Export row: its manifest is checked
    shutil.copytree(runs.export_folder(export), copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["tasks"][0]["splits"]["train"]["approved_at"] = None
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(runs.TrainingError, match="without a QC approval: caps/train"):
        runs.start_run(admin, str(copy), "tiny")
    with pytest.raises(runs.TrainingError, match="is not a complete export"):
        runs.start_run(admin, str(tmp_path), "tiny")
    assert not Job.objects.filter(kind=JobKind.TRAIN).exists()
    assert not TrainingRun.objects.exists()


# --- a run end to end -------------------------------------------------------------------------


def test_a_tiny_run_trains_records_its_curve_and_checkpoints(exported, eager_jobs):
    with eager_jobs():
        run = runs.start_run(
            exported["admin"], exported["export"], "tiny", {"optim": {"max_steps": 20}, "run": {"checkpoint_every": 10}}
        )
    run.refresh_from_db()
    assert run.job.status == JobStatus.SUCCEEDED, run.job.error
    assert run.status == RunStatus.COMPLETED and run.step == 20 and run.total_steps == 20
    assert run.export_digest == exported["export"].digest and run.job.queue == "gpu"
    steps = list(run.metrics.values_list("step", flat=True))
    assert steps == list(range(2, 21, 2))  # log_every 2: one row per logged step
    first, last = run.metrics.first(), run.metrics.last()
    assert run.final_loss == pytest.approx(last.loss) and last.loss < 0.8 * first.loss
    assert [c["step"] for c in run.checkpoints] == [10, 20]
    final = Path(run.checkpoints[-1]["path"])
    assert (final / "adapter" / "adapter_config.json").is_file()  # Stage 2: the LoRA adapter alone
    assert (final / "trainable.safetensors").is_file() and not list(final.glob("model*.safetensors"))
    assert list((Path(run.run_dir) / "tensorboard").glob("events.out.tfevents.*"))
    assert run.job.done == 20 and run.job.total == 20
    payload = runs.metrics_payload(run, after=14)
    assert [p["step"] for p in payload["points"]] == [16, 18, 20]
    assert "completed at step 20" in payload["log_tail"]


def test_resume_from_a_checkpoint_gives_the_same_next_losses(export_folder, tmp_path):
    """20 steps straight vs. stopped after step 6 (checkpoint, mid-epoch) and resumed: steps 7-20 match."""
    config = load_config("tiny", {"optim": {"max_steps": 20}, "run": {"log_every": 1, "checkpoint_every": 100}})
    straight = tmp_path / "straight"
    train(config, export_folder, straight)

    class StopAt6(Reporter):
        def should_stop(self) -> bool:
            lines = (self.run_dir / "metrics.jsonl").read_text().splitlines()
            return len(lines) >= 6

    interrupted = tmp_path / "interrupted"
    summary = train(config, export_folder, interrupted, reporter=StopAt6(interrupted))
    assert summary["status"] == "stopped" and summary["step"] == 6
    shutil.copytree(straight / "base", interrupted / "base", dirs_exist_ok=True)  # same built model either way
    resumed = train(config, export_folder, interrupted, resume=True)
    assert resumed["status"] == "completed" and resumed["step"] == 20
    a, b = _losses(straight), _losses(interrupted)
    assert sorted(b) == list(range(1, 21))  # epochs of 8 batches: the resumed part crosses two boundaries
    for step in range(7, 21):
        assert b[step] == pytest.approx(a[step], rel=1e-5, abs=1e-6), step
    assert a[20] < a[1]


def test_two_processes_under_accelerate_launch_train_and_write_one_set_of_metrics(exported, eager_jobs):
    overrides = {"optim": {"max_steps": 8}, "run": {"num_processes": 2, "threads": 1, "log_every": 2}}
    with eager_jobs():
        run = runs.start_run(exported["admin"], exported["export"], "tiny", overrides)
    run.refresh_from_db()
    assert run.job.status == JobStatus.SUCCEEDED, run.job.error + runs.log_tail(run)
    assert run.info["processes"] == 2 and run.info["global_batch"] == 8
    assert list(run.metrics.values_list("step", flat=True)) == [2, 4, 6, 8]
    lines = (Path(run.run_dir) / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [2, 4, 6, 8]  # the main process alone reports
    assert run.final_loss is not None and run.checkpoints[-1]["step"] == 8
    assert (Path(run.run_dir) / "checkpoints" / "step-8" / "rng-1.pt").is_file()  # each process's RNG


def test_cancel_stops_at_the_next_progress_write_and_resume_carries_on(exported, eager_jobs, monkeypatch, settings):
    settings.JOB_PROGRESS_MIN_INTERVAL = 0  # every sync reads the folder: the cancel lands at step 6 on any machine
    run = runs.start_run(exported["admin"], exported["export"], "tiny", {"optim": {"max_steps": 20}})
    original = runs.Follower.sync

    def cancel_at_step_6(self, force=False):
        original(self, force)
        if self.run.step >= 6 and not self.cancelled:
            Job.objects.filter(pk=self.run.job_id).update(cancel_requested=True)
            try:
                self.progress.update(force=True)
            except runs.JobCancelled:
                self.cancelled = True

    monkeypatch.setattr(runs.Follower, "sync", cancel_at_step_6)
    assert run_job(run.job_id, train_model.body) == JobStatus.CANCELLED
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and run.final_loss is None
    stopped_at = run.checkpoints[-1]["step"]
    assert 6 <= stopped_at < 20 and run.step == stopped_at

    monkeypatch.setattr(runs.Follower, "sync", original)
    with eager_jobs():
        runs.resume_run(run, exported["admin"])
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED and run.step == 20 and len(run.jobs) == 2
    steps = list(TrainingMetric.objects.filter(run=run).values_list("step", flat=True))
    assert steps == list(range(2, 21, 2))  # one curve: no step twice, none missing
    with pytest.raises(runs.TrainingError, match="has completed"):
        runs.resume_run(run, exported["admin"])


@pytest.mark.django_db(transaction=True)
def test_manage_py_train_runs_with_a_progress_bar(exported, capsys):
    call_command("train", "--export", str(exported["export"].pk), "--config", "tiny", "--set", "optim.max_steps=6")
    out, err = capsys.readouterr()
    run = TrainingRun.objects.get()
    assert "completed: 6 steps" in out and f"Run #{run.pk}" in out
    assert "6/6" in err  # the tqdm bar on stderr
    with pytest.raises(CommandError, match="task\\(s\\) not in the export: nope"):
        call_command("train", "--export", exported["export"].name, "--config", "tiny", "--set", "data.tasks=[nope]")


def test_cancelling_a_queued_run_ends_it_at_once_and_it_can_resume(exported):
    run = runs.start_run(exported["admin"], exported["export"], "tiny")
    runs.cancel_run(run)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and run.job.status == JobStatus.CANCELLED
    runs.resume_run(run, exported["admin"])
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and run.job.kind == JobKind.TRAIN and len(run.jobs) == 2
    with pytest.raises(runs.TrainingError, match="is still queued"):
        runs.resume_run(run, exported["admin"])
