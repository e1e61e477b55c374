"""The §4.3 ablations: how the number of held-in tasks (Figure 5) and the number of instructions per
task (Figure 6) change the evaluated ROUGE-L.

Each point is one training run on a selection of the export's train split and one evaluation on
the series' evaluation tasks. The task-count series takes the first N tasks of one seeded shuffle
of the held-in tasks (so the selections are nested: the 4 tasks are among the 8); every task keeps
at most `max_per_task` examples (5k in the paper). The instruction-count series trains on every
held-in task with the training data's instruction cap (each record's instruction redrawn from the
first N of its task's exported pool). Each run is a TrainingRun of the training app. Points are
stored as they finish; a series that crashed resumes from the first point not done, and the figure
is drawn from the stored points only.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import AblationKind, AblationPoint, AblationSeries, Backend, Evaluation, PointStatus
from .generate import Backend as BackendFn
from .records import count_items, split_files


class AblationError(Exception):
    """The series cannot run as asked; the message says why."""


@dataclass
class TrainSpec:
    """What one point trains on; a trainer turns it into a model that can answer."""

    export_root: Path
    export: Any  # the Export row, or None for a folder
    tasks: list[str]
    max_per_task: int
    instruction_cap: int | None
    seed: int
    config: str
    options: dict[str, Any] = field(default_factory=dict)
    user: Any = None
    work_dir: Path | None = None  # where a 0-task point builds its base model (per series)

    def overrides(self) -> dict[str, Any]:
        """The training config's overrides for this point (training.config names)."""
        data = {"tasks": self.tasks, "max_per_task": self.max_per_task, "instructions_per_task": self.instruction_cap}
        overrides: dict[str, Any] = {"data": data, "run": {"seed": self.seed}}
        if self.options.get("steps"):
            overrides["optim"] = {"max_steps": int(self.options["steps"])}
        return overrides


@dataclass
class Trained:
    backend: BackendFn
    run_id: int | None = None
    examples: int = 0


Trainer = Callable[[TrainSpec], Trained]


def held_in_tasks(root: Path) -> list[str]:
    return sorted(info.slug for info, _ in split_files(root, "train") if info.held_in)


def tasks_for_count(tasks: list[str], count: int, seed: int) -> list[str]:
    """The first `count` tasks of one seeded shuffle: every point of a series draws from the same order."""
    if count > len(tasks):
        raise AblationError(f"{count} tasks asked for, the export has {len(tasks)} held-in tasks with a train split")
    order = sorted(tasks)
    random.Random(seed).shuffle(order)
    return sorted(order[:count])


def train_point(spec: TrainSpec) -> Trained:
    """One training run of the training app (issue #12) on the point's tasks, run here (the claim
    decides if a worker got its message first: then this waits for it), and its last checkpoint;
    no task at all is the config's base model, untrained."""
    from pipeline.jobs.runner import job_task_named, run_job
    from pipeline.models import Job
    from training import runs
    from training.config import load_config
    from training.models import RunStatus, TrainingRun

    from .checkpoints import base_backend, run_backend

    max_new_tokens = int(spec.options.get("max_new_tokens", 32))
    examples = count_items(spec.export_root, "train", spec.tasks, spec.max_per_task) if spec.tasks else 0
    if not spec.tasks:
        config = load_config(spec.config, {k: v for k, v in spec.overrides().items() if k != "data"})
        work = spec.work_dir or Path(settings.TRAINING_ROOT).resolve() / "ablation-base"
        return Trained(base_backend(config, spec.export_root, work, max_new_tokens), None, 0)
    try:
        run = runs.start_run(spec.user, spec.export or str(spec.export_root), spec.config, spec.overrides())
    except runs.TrainingError as exc:
        raise AblationError(str(exc)) from exc
    run_job(run.job_id, job_task_named(Job.objects.get(pk=run.job_id).task_name).body)
    while not Job.objects.get(pk=run.job_id).is_terminal:  # held by a worker: wait for it to end
        time.sleep(2)
    run = TrainingRun.objects.get(pk=run.pk)
    if run.status != RunStatus.COMPLETED:
        raise AblationError(f"training run #{run.pk} {run.status}: {run.error or run.job.message}")
    return Trained(run_backend(run, None, max_new_tokens), run.pk, examples)


def default_trainer(config: str) -> Trainer:
    return train_point


class _Quiet:
    """The progress calls of a point's inner evaluation, ignored (the series reports per point)."""

    done = 0
    total = None
    counters: dict[str, Any] = {}

    def update(self, *args: Any, **kwargs: Any) -> None:
        pass

    def add(self, *args: Any, **kwargs: Any) -> None:
        pass

    def flush(self) -> None:
        pass


def start_series(
    kind: str,
    counts: list[int],
    *,
    export_value: str,
    eval_tasks: list[str] | None = None,
    split: str = "val",
    config: str = "tiny",
    seed: int = 0,
    max_per_task: int = 5000,
    options: dict[str, Any] | None = None,
    user: Any = None,
) -> AblationSeries:
    from pipeline.jobs.runner import start_job
    from pipeline.models import JobKind

    from .run import resolve_export

    if kind not in AblationKind.values:
        raise AblationError(f"unknown ablation {kind!r}; use tasks or instructions")
    if not counts or any(c < 0 for c in counts) or (kind == AblationKind.INSTRUCTIONS and 0 in counts):
        raise AblationError("counts must be non-negative (and at least 1 instruction per task)")
    export, root = resolve_export(export_value)
    held_in = held_in_tasks(root)
    if kind == AblationKind.TASKS and max(counts) > len(held_in):
        raise AblationError(
            f"{max(counts)} tasks asked for, {root} has {len(held_in)} held-in tasks with a train split"
        )
    present = {info.slug for info, _ in split_files(root, split)}
    chosen = sorted(eval_tasks) if eval_tasks else sorted(present)
    missing = sorted(set(chosen) - present)
    if missing or not chosen:
        raise AblationError(f"no {split} split in {root} for: {', '.join(missing) or 'any task'}")
    series = AblationSeries.objects.create(
        kind=kind,
        config=config,
        export=export,
        export_path=str(root),
        split=split,
        eval_tasks=chosen,
        counts=sorted(set(counts)),
        seed=seed,
        max_per_task=max_per_task,
        options=options or {},
        created_by=user if user is not None and getattr(user, "is_authenticated", False) else None,
    )
    AblationPoint.objects.bulk_create(AblationPoint(series=series, count=c) for c in series.counts)
    series.job = start_job(
        JobKind.ABLATE,
        "training.tasks.ablate",
        user=user,
        params={"series": series.pk},
        total=len(series.counts),
        message=f"{kind} ablation: {len(series.counts)} points.",
    )
    series.save(update_fields=["job"])
    return series


def run_series(series: AblationSeries, progress: Any, trainer: Trainer | None = None) -> dict[str, Any]:
    """Train and evaluate every point not done yet, in order of count; each point is saved when done."""
    from .run import run_evaluation

    trainer = trainer or default_trainer(series.config)
    root = Path(series.export_path)
    held_in = held_in_tasks(root)
    points = list(series.points.order_by("count"))
    finished = sum(p.status == PointStatus.DONE for p in points)
    progress.update(done=finished, total=len(points), message=f"{finished} of {len(points)} points done before")
    for point in points:
        if point.status == PointStatus.DONE:
            continue
        if series.kind == AblationKind.TASKS:
            tasks, cap = tasks_for_count(held_in, point.count, series.seed), None
        else:
            tasks, cap = held_in, point.count
        spec = TrainSpec(
            export_root=root,
            export=series.export,
            tasks=tasks,
            max_per_task=series.max_per_task,
            instruction_cap=cap,
            seed=series.seed,
            config=series.config,
            options=dict(series.options),
            user=series.created_by,
            work_dir=Path(settings.TRAINING_ROOT).resolve() / f"ablation-{series.pk}",
        )
        progress.update(message=f"point {point.count}: training on {len(tasks)} task(s)")
        trained = trainer(spec)
        evaluation = Evaluation.objects.create(
            name=f"ablation #{series.pk} {series.kind}={point.count}",
            backend=Backend.RUN if trained.run_id is not None else Backend.HF,
            training_run_id=trained.run_id,
            model_name=series.config,
            export=series.export,
            export_path=series.export_path,
            split=series.split,
            tasks=series.eval_tasks,
            options={
                k: v for k, v in series.options.items() if k in ("limit_per_task", "batch_size", "max_new_tokens")
            },
        )
        progress.update(message=f"point {point.count}: evaluating")
        run_evaluation(evaluation, _Quiet(), backend=trained.backend)
        with transaction.atomic():
            point.status = PointStatus.DONE
            point.train_tasks = tasks
            point.train_examples = trained.examples
            point.training_run_id = trained.run_id
            point.evaluation = evaluation
            point.score = evaluation.results["overall"]
            point.finished_at = timezone.now()
            point.save()
        progress.add(1)
    series.completed_at = timezone.now()
    series.save(update_fields=["completed_at"])
    return {"series": series.pk, "points": curve(series)}


def curve(series: AblationSeries) -> list[dict[str, Any]]:
    """The figure's data, from stored points only: count, score (ROUGE-L x 100), tasks trained on."""
    return [
        {"count": p.count, "score": None if p.score is None else round(100 * p.score, 2), "tasks": p.train_tasks}
        for p in series.points.filter(status=PointStatus.DONE).order_by("count")
    ]
