"""Evaluating one model on one split of an export: predictions per record, ROUGE-L per task and
per group, as a resumable job (records already predicted are skipped when a job is claimed again)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count
from django.utils import timezone

from pipeline.jobs.runner import start_job
from pipeline.models import Export, JobKind

from ..models import Backend, Evaluation, Prediction, TrainingRun
from . import rouge
from .generate import Backend as BackendFn
from .generate import answers
from .records import RecordsError, count_items, read_items, split_files

BATCH = 8


class EvaluationError(Exception):
    """What was asked cannot be evaluated; the message says why."""


def export_folder(export: Export) -> Path:
    """Where a finished export lives: EXPORT_ROOT/<name> (the exporter's layout)."""
    return Path(settings.EXPORT_ROOT).resolve() / export.name


def export_root(export: Export | None, path: str | None) -> Path:
    if export is not None:
        if not export.completed_at:
            raise EvaluationError(f"export {export.name} is not finished")
        return export_folder(export)
    if not path:
        raise EvaluationError("give an export id or an export folder")
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise EvaluationError(f"{root} is not a folder")
    return root


def resolve_export(value: str) -> tuple[Export | None, Path]:
    """An export id (or name) from the database, or a folder on disk."""
    export = None
    if value.isdigit():
        export = Export.objects.filter(pk=int(value)).first()
    export = export or Export.objects.filter(name=value).first()
    if export is not None:
        return export, export_root(export, None)
    return None, export_root(None, value)


def start_evaluation(
    *,
    export_value: str,
    split: str = "val",
    tasks: list[str] | None = None,
    backend: str = Backend.RUN,
    run_id: int | None = None,
    checkpoint: int | None = None,
    model_name: str = "",
    options: dict[str, Any] | None = None,
    name: str = "",
    user: Any = None,
) -> Evaluation:
    """Check the request (export readable, tasks present), create the Evaluation and its queued Job."""
    export, root = resolve_export(export_value)
    try:
        files = split_files(root, split)
    except RecordsError as exc:
        raise EvaluationError(str(exc)) from exc
    present = {info.slug for info, _ in files}
    missing = sorted(set(tasks or []) - present)
    if missing:
        raise EvaluationError(f"no {split} split in {root} for: {', '.join(missing)}")
    if not present:
        raise EvaluationError(f"{root} has no {split} split")
    run = None
    if backend == Backend.RUN:
        if run_id is None:
            raise EvaluationError("a run evaluation needs --run")
        from .checkpoints import CheckpointError, checkpoint_dir

        run = TrainingRun.objects.filter(pk=run_id).first()
        if run is None:
            raise EvaluationError(f"no training run #{run_id}")
        try:
            checkpoint_dir(run, checkpoint)
        except CheckpointError as exc:
            raise EvaluationError(str(exc)) from exc
    if backend in (Backend.ENDPOINT, Backend.HF) and not model_name:
        raise EvaluationError("an endpoint or model-path evaluation needs a model name")
    label = name or (
        f"run {run_id}" + (f" @ {checkpoint}" if checkpoint else "") if backend == Backend.RUN else model_name
    )
    evaluation = Evaluation.objects.create(
        name=label,
        backend=backend,
        training_run=run,
        checkpoint=checkpoint,
        model_name=model_name,
        export=export,
        export_path=str(root),
        split=split,
        tasks=sorted(tasks or []),
        options=options or {},
        created_by=user if user is not None and getattr(user, "is_authenticated", False) else None,
    )
    # an endpoint evaluation waits on the network (llm queue); a model of ours needs the gpu queue
    task = "training.tasks.evaluate_endpoint" if backend == Backend.ENDPOINT else "training.tasks.evaluate"
    evaluation.job = start_job(
        JobKind.EVALUATE,
        task,
        user=user,
        params={"evaluation": evaluation.pk},
        message=f"Evaluate {label} on {split}.",
    )
    evaluation.save(update_fields=["job"])
    return evaluation


def backend_for(evaluation: Evaluation) -> BackendFn:
    """The model that answers: an endpoint, a model folder, or a training run's checkpoint."""
    options = evaluation.options
    if evaluation.backend == Backend.ENDPOINT:
        from .endpoint import EndpointBackend
        from .llm import endpoint_config

        return EndpointBackend(endpoint_config(evaluation.model_name))
    if evaluation.backend == Backend.HF:
        return hf_backend(evaluation.model_name, options.get("max_new_tokens", 32))
    from .checkpoints import CheckpointError, run_backend

    try:
        return run_backend(evaluation.training_run, evaluation.checkpoint, options.get("max_new_tokens", 32))
    except CheckpointError as exc:
        raise EvaluationError(str(exc)) from exc


def hf_backend(path: str, max_new_tokens: int = 32) -> BackendFn:
    """A saved BLIP-2-style model folder (or a name in an already filled Hugging Face cache)."""
    from transformers import AutoImageProcessor, AutoTokenizer, Blip2ForConditionalGeneration

    from .generate import HFBackend

    model = Blip2ForConditionalGeneration.from_pretrained(path)
    return HFBackend(
        model, AutoTokenizer.from_pretrained(path), AutoImageProcessor.from_pretrained(path), max_new_tokens
    )


def run_evaluation(evaluation: Evaluation, progress: Any, backend: BackendFn | None = None) -> dict[str, Any]:
    """Answer every record not answered yet, BATCH at a time, each batch written as it is scored."""
    options = evaluation.options
    root, split, tasks = evaluation.export_path, evaluation.split, evaluation.tasks or None
    limit = options.get("limit_per_task")
    total = count_items(root, split, tasks, limit)
    done = set(evaluation.predictions.values_list("task", "record_id"))
    progress.update(done=len(done), total=total, message=f"{len(done)} of {total} records answered before")
    backend = backend or backend_for(evaluation)
    groups: dict[str, str] = {}

    def todo() -> Any:
        for info, item in read_items(root, split, tasks, limit, options.get("chinese_priming", False)):
            groups[info.slug] = info.group
            if (item.task, item.record_id) not in done:
                yield item

    batch_size = int(options.get("batch_size", BATCH))
    pending: list[Prediction] = []
    for item, text in answers(todo(), backend, batch_size):
        pending.append(
            Prediction(
                evaluation=evaluation,
                task=item.task,
                split=split,
                record_id=item.record_id,
                prompt=item.prompt,
                prediction=text,
                reference=item.reference,
                rouge_l=rouge.rouge_l(text, item.reference),
            )
        )
        if len(pending) >= batch_size:
            Prediction.objects.bulk_create(pending, ignore_conflicts=True)
            progress.add(len(pending))
            pending = []
    if pending:
        Prediction.objects.bulk_create(pending, ignore_conflicts=True)
        progress.add(len(pending))
    if not groups:  # every record was answered before: groups from the files
        groups = {info.slug: info.group for info, _ in split_files(Path(root), split)}
    evaluation.results = results_of(evaluation, groups) | _backend_notes(backend)
    evaluation.completed_at = timezone.now()
    evaluation.save(update_fields=["results", "completed_at"])
    overall = evaluation.results["overall"]
    progress.update(
        message=f"ROUGE-L {100 * overall:.1f} over {evaluation.results['records']} records"
        if overall is not None
        else "no records"
    )
    return {"evaluation": evaluation.pk, "records": evaluation.results["records"], "rouge_l": overall}


def _backend_notes(backend: Any) -> dict[str, Any]:
    notes = {}
    for name in ("failed", "tokens_in", "tokens_out"):
        if hasattr(backend, name):
            notes[f"endpoint_{name}"] = getattr(backend, name)
    return notes


def results_of(evaluation: Evaluation, groups: dict[str, str]) -> dict[str, Any]:
    """ROUGE-L (0-1) per task from one aggregate query; groups and overall are means of task means."""
    rows = evaluation.predictions.values("task").annotate(mean=Avg("rouge_l"), n=Count("id")).order_by("task")
    task_means = {r["task"]: r["mean"] for r in rows}
    counts = {r["task"]: r["n"] for r in rows}
    return {
        "tasks": {
            t: {"rouge_l": m, "records": counts[t], "group": groups.get(t, "other")} for t, m in task_means.items()
        },
        "groups": rouge.per_group(task_means, groups),
        "overall": rouge.mean(task_means.values()),
        "records": sum(counts.values()),
    }
