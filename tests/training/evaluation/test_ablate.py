"""Ablation series on the tiny config with the training app's runs: seeded nested task draws, the
training data's instruction cap, points stored as they finish, a crashed series resumed from the
last finished point, the figure drawn from the stored points."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.jobs.runner import run_job
from pipeline.models import Job, JobStatus
from training.evaluation import ablate
from training.evaluation.ablate import AblationError, start_series, tasks_for_count
from training.evaluation.charts import ablation_svg
from training.models import AblationPoint, PointStatus, TrainingRun
from training.tasks import ablate as ablate_task

pytestmark = pytest.mark.django_db
FAST = {"steps": 3, "max_new_tokens": 4}


@pytest.fixture(autouse=True)
def _fast(settings, tmp_path: Path) -> None:
    settings.JOB_PROGRESS_MIN_INTERVAL = 0
    settings.TRAINING_ROOT = tmp_path / "training"


def test_task_draws_are_seeded_and_nested() -> None:
    tasks = [f"t{i}" for i in range(27)]
    four, eight = tasks_for_count(tasks, 4, 1), tasks_for_count(tasks, 8, 1)
    assert set(four) < set(eight) and len(eight) == 8
    assert tasks_for_count(tasks, 4, 1) == four and tasks_for_count(tasks, 4, 2) != four
    with pytest.raises(AblationError, match="28 tasks asked for"):
        tasks_for_count(tasks, 28, 0)


def test_bad_series_are_refused_before_a_job_exists(eval_export: Path) -> None:
    with pytest.raises(AblationError, match="3 tasks asked for"):
        start_series("tasks", [0, 3], export_value=str(eval_export))  # two held-in tasks only
    with pytest.raises(AblationError, match="at least 1 instruction"):
        start_series("instructions", [0, 2], export_value=str(eval_export))
    with pytest.raises(AblationError, match="for: nope"):
        start_series("tasks", [1], export_value=str(eval_export), eval_tasks=["nope"])
    assert not Job.objects.exists()


def test_task_series_two_points_crash_and_resume(eval_export: Path, monkeypatch) -> None:
    series = start_series("tasks", [0, 2], export_value=str(eval_export), eval_tasks=["clips"], options=FAST)
    calls: list[list[str]] = []

    def crash_on_second(spec: ablate.TrainSpec) -> ablate.Trained:
        calls.append(spec.tasks)
        if len(calls) == 2:
            raise RuntimeError("worker lost")
        return ablate.train_point(spec)

    monkeypatch.setattr(ablate, "default_trainer", lambda config: crash_on_second)
    assert run_job(series.job_id, ablate_task.body) == JobStatus.FAILED
    points = {p.count: p for p in AblationPoint.objects.filter(series=series)}
    assert points[0].status == PointStatus.DONE and points[2].status == PointStatus.PENDING
    assert points[0].train_tasks == [] and points[0].training_run is None  # 0 tasks: the untrained base model
    assert points[0].evaluation.predictions.count() == 3  # clips' val records, 8 frames each

    monkeypatch.undo()  # the real trainer: a TrainingRun of the training app
    Job.objects.filter(pk=series.job_id).update(status=JobStatus.QUEUED)
    assert run_job(series.job_id, ablate_task.body) == JobStatus.SUCCEEDED
    done = AblationPoint.objects.get(series=series, count=2)
    assert done.status == PointStatus.DONE and done.train_tasks == ["caps", "colours"]
    run = TrainingRun.objects.get(pk=done.training_run_id)
    assert run.status == "completed" and run.step == 3
    assert run.config["data"]["tasks"] == ["caps", "colours"] and run.config["data"]["max_per_task"] == 5000
    assert done.train_examples == 32 and done.score is not None
    assert done.evaluation.training_run_id == run.pk
    assert [p["count"] for p in ablate.curve(series)] == [0, 2]
    assert TrainingRun.objects.count() == 1  # the finished point was not trained again
    svg = ablation_svg(series)
    assert svg.startswith("<svg") and svg.count("<circle") == 2


def test_instruction_series_caps_the_pool_per_task(eval_export: Path) -> None:
    series = start_series(
        "instructions", [1, 2], export_value=str(eval_export), eval_tasks=["colours"], max_per_task=4, options=FAST
    )
    assert run_job(series.job_id, ablate_task.body) == JobStatus.SUCCEEDED
    runs = {p.count: TrainingRun.objects.get(pk=p.training_run_id) for p in series.points.all()}
    assert {c: r.config["data"]["instructions_per_task"] for c, r in runs.items()} == {1: 1, 2: 2}
    assert all(r.config["data"]["max_per_task"] == 4 for r in runs.values())
    assert [p.train_examples for p in series.points.order_by("count")] == [8, 8]
