"""Ablation series on the tiny config: seeded nested task draws, capped instruction pools, points
stored as they finish, a crashed series resumed from the last finished point, the figure drawn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.jobs.runner import run_job
from pipeline.models import Job, JobStatus
from training.evaluation import ablate
from training.evaluation.ablate import TrainSpec, start_series, tasks_for_count, training_records
from training.models import AblationPoint, PointStatus
from training.tasks import ablate as ablate_task

from .helpers import record, write_export

pytestmark = pytest.mark.django_db
HELD_IN = ["coco", "okvqa", "vqa-v2", "gqa", "clevr", "nlvr"]
GROUPS = {
    "coco": "captioning",
    "okvqa": "kvqa",
    "vqa-v2": "vqa",
    "gqa": "vqa",
    "clevr": "reasoning",
    "nlvr": "reasoning",
}


@pytest.fixture
def export(tmp_path: Path) -> Path:
    splits = {
        (slug, GROUPS[slug], "train"): [record(f"{slug} instruction {i % 4}", f"q{i}", f"answer {i}") for i in range(7)]
        for slug in HELD_IN
    }
    splits[("viquae", "kvqa", "val")] = [record("Answer.", "Who?", "a cat") for _ in range(2)]
    root = write_export(tmp_path / "export", splits)
    manifest = json.loads((root / "manifest.json").read_text())
    for entry in manifest["tasks"]:
        entry["held_in"] = entry["slug"] != "viquae"
    (root / "manifest.json").write_text(json.dumps(manifest))
    (root / "data/kvqa/okvqa/instructions.json").write_text(json.dumps([f"okvqa instruction {i}" for i in range(10)]))
    return root


def test_task_draws_are_seeded_and_nested() -> None:
    four, eight = (
        tasks_for_count([f"t{i}" for i in range(27)], 4, 1),
        tasks_for_count([f"t{i}" for i in range(27)], 8, 1),
    )
    assert set(four) < set(eight) and len(eight) == 8
    assert tasks_for_count([f"t{i}" for i in range(27)], 4, 1) == four
    assert tasks_for_count([f"t{i}" for i in range(27)], 4, 2) != four
    with pytest.raises(ablate.AblationError, match="28 tasks asked for"):
        tasks_for_count([f"t{i}" for i in range(27)], 28, 0)


def test_records_capped_per_task_and_instructions_per_pool(export: Path) -> None:
    spec = TrainSpec(export, ["okvqa", "coco"], max_per_task=5, instruction_cap=2, seed=3, config="tiny")
    rows = list(training_records(spec))
    assert [r["task"] for r in rows] == ["okvqa"] * 5 + ["coco"] * 5
    okvqa = {r["instruction"] for r in rows if r["task"] == "okvqa"}
    assert len(okvqa) <= 2 and okvqa <= {f"okvqa instruction {i}" for i in range(10)}  # from instructions.json
    coco = {r["instruction"] for r in rows if r["task"] == "coco"}
    assert len(coco) <= 2 and coco <= {f"coco instruction {i}" for i in range(4)}  # no pool file: those seen


def test_two_point_series_on_the_tiny_config_writes_both_points_and_resumes(
    export: Path, settings, monkeypatch
) -> None:
    settings.JOB_PROGRESS_MIN_INTERVAL = 0
    series = start_series(
        "tasks",
        [0, 2],
        export_value=str(export),
        eval_tasks=["viquae"],
        max_per_task=3,
        options={"steps": 2, "max_new_tokens": 4},
    )
    calls: list[list[str]] = []
    real = ablate.default_trainer("tiny")

    def crash_on_second(spec: TrainSpec) -> ablate.Trained:
        calls.append(spec.tasks)
        if len(calls) == 2:
            raise RuntimeError("worker lost")
        return real(spec)

    monkeypatch.setattr(ablate, "default_trainer", lambda config: crash_on_second)
    assert run_job(series.job_id, ablate_task.body) == JobStatus.FAILED
    points = {p.count: p for p in AblationPoint.objects.filter(series=series)}
    assert points[0].status == PointStatus.DONE and points[2].status == PointStatus.PENDING
    assert points[0].train_tasks == [] and points[0].evaluation.predictions.count() == 2

    # resume: the finished point is not trained again
    calls.clear()
    monkeypatch.setattr(
        ablate, "default_trainer", lambda config: lambda spec: (calls.append(spec.tasks), real(spec))[1]
    )
    Job.objects.filter(pk=series.job_id).update(status=JobStatus.QUEUED)
    assert run_job(series.job_id, ablate_task.body) == JobStatus.SUCCEEDED
    assert len(calls) == 1 and len(calls[0]) == 2
    done = AblationPoint.objects.get(series=series, count=2)
    assert done.status == PointStatus.DONE and done.train_examples == 6 and done.score is not None
    curve = ablate.curve(series)
    assert [p["count"] for p in curve] == [0, 2]

    from training.evaluation.charts import ablation_svg

    svg = ablation_svg(series)
    assert svg.startswith("<svg") and svg.count("<circle") == 2
