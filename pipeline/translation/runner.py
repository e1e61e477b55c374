"""Running Stage IV: a parent job on the `gpu` queue and its chunks.

A translation job (the parent) creates its chunks once: first one per (task, language) for the task's
instruction pool, then one per (task, split, language, range of the recorded selection). Pool chunks
run first, so a sample's instruction is looked up in the translated pool rather than sent again with
every one of the 500 samples that carry it; sample chunks are released when every pool chunk is done.
Idle workers take chunks from the queue; the parent works through any nobody has claimed, so one
worker alone finishes everything.

A chunk writes all it translated, with the new cache rows, in one transaction at its end: a killed
worker's chunk left nothing, and is claimed again and redone (unique (sample, language) rows and
`ignore_conflicts` mean a chunk redone after its commit duplicates nothing). Every string sent goes
to TranslationCache keyed by (backend, model, language, text hash), so a rerun, a resumed job or a
second task sends nothing twice. Cancel stops at the next chunk boundary: chunks not started are
cancelled, running ones finish and commit. Resume is a new job with the same parameters; it skips
what is already translated.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotator.models import Instruction, Task
from pipeline.jobs.runner import JobCancelled, Progress, request_cancel, run_job, send_job, start_job

from ..models import (
    Job,
    JobKind,
    JobStatus,
    Language,
    Sample,
    TranslatedInstruction,
    Translation,
    TranslationCache,
    TranslationSelection,
)
from . import languages as langs
from .backends import BackendConfig, TranslationError, get_translator
from .plan import Plan, build_plan, record_selections, text_hash
from .text import Stats, translate_texts

PARENT_TASK = "pipeline.translation.tasks.translate_run"
CHUNK_TASK = "pipeline.translation.tasks.translate_chunk"
CALIBRATE_TASK = "pipeline.translation.tasks.translate_calibrate"
QUEUE = "gpu"
REPORT_EVERY_SECONDS = 1.0
STAT_KEYS = ("asked", "pieces", "cached", "sent", "tokens")


def config_of(params: dict[str, Any]) -> BackendConfig:
    return BackendConfig.from_settings(backend=params.get("backend"), model=params.get("model"))


# --- starting ------------------------------------------------------------------------------------


def check_ready(plan: Plan, config: BackendConfig) -> None:
    """Everything that can be checked before any work: languages, samples, model files, language tokens."""
    if not plan.languages:
        raise TranslationError("No language chosen.")
    if not plan.samples and not any(plan.pools.values()):
        raise TranslationError(
            "Nothing to translate: the chosen tasks have no evaluation (val/test) samples and no instructions."
        )
    codes = [lang.nllb_code for lang in plan.languages]
    if config.backend == "openai":
        if not settings.OPENAI_API_KEY:
            raise TranslationError("TRANSLATION_BACKEND=openai needs OPENAI_API_KEY.")
        return
    from .backends.base import check_tokenizer_languages, load_tokenizer, resolve_model_dir

    check_tokenizer_languages(load_tokenizer(resolve_model_dir(config.model)), codes, config.model)


def start_translation(
    user: Any,
    task_slugs: list[str] | None = None,
    language_codes: list[str] | None = None,
    config: BackendConfig | None = None,
    resume_of: int | None = None,
) -> Job:
    """Check, record the selection, and queue the parent job (after the transaction commits)."""
    config = config or BackendConfig.from_settings()
    plan = build_plan(task_slugs, language_codes, config)
    check_ready(plan, config)
    with transaction.atomic():
        busy = Job.objects.filter(kind=JobKind.TRANSLATE).exclude(status__in=Job.TERMINAL)
        for other in busy.exclude(params__has_key="parent").exclude(params__has_key="calibrate").only("id", "params"):
            if overlap := set(plan.tasks) & set(other.params.get("tasks", [])):
                raise TranslationError(
                    f"Job #{other.pk} is already translating {', '.join(sorted(overlap))}: wait for it or cancel it."
                )
        record_selections(plan, user)
        tasks = list(Task.objects.filter(slug__in=plan.tasks))
        job = start_job(
            JobKind.TRANSLATE,
            PARENT_TASK,
            user=user,
            params={
                "tasks": plan.tasks,
                "languages": [lang.code for lang in plan.languages],
                "backend": config.backend,
                "model": config.model,
                "seed": plan.seed,
                "chunk_size": settings.TRANSLATION_CHUNK_SIZE,
                "resume_of": resume_of,
                "plan": {
                    k: v
                    for k, v in plan.as_dict().items()
                    if k in ("samples", "translations", "pieces", "pieces_to_send", "estimate_seconds")
                },
            },
            for_task=tasks[0] if len(tasks) == 1 else None,
            message=f"Queued: {plan.samples} samples x {len(plan.languages)} languages.",
        )
    return job


def resume_translation(job: Job, user: Any) -> Job:
    """A new job with the parameters of a stopped one; what it already translated is skipped."""
    if not job.is_terminal:
        raise TranslationError(f"Job #{job.pk} is still {job.status}.")
    params = job.params
    config = BackendConfig.from_settings(backend=params.get("backend"), model=params.get("model"))
    return start_translation(user, params.get("tasks"), params.get("languages"), config, resume_of=job.pk)


def start_calibration(
    user: Any,
    task_slugs: list[str] | None = None,
    config: BackendConfig | None = None,
    language_codes: list[str] | None = None,
) -> Job:
    """Queue a short timed run of the backend on the plan's strings into one language (the first given)."""
    config = config or BackendConfig.from_settings()
    return start_job(
        JobKind.TRANSLATE,
        CALIBRATE_TASK,
        user=user,
        params={
            "calibrate": True,
            "tasks": task_slugs,
            "languages": (language_codes or ["fr"])[:1],
            "backend": config.backend,
            "model": config.model,
        },
        message="Calibration queued.",
    )


def run_calibration(job: Job, progress: Progress) -> dict[str, Any]:
    from .plan import calibrate, source_strings

    config = config_of(job.params)
    plan = build_plan(job.params.get("tasks"), job.params.get("languages") or ["fr"], config, count=False)
    target = plan.languages[0].nllb_code
    progress.update(message=f"Calibrating {config.backend} on {target}", force=True)
    return calibrate(config, source_strings(plan), target)


# --- the parent job -------------------------------------------------------------------------------


def chunks_of(parent: Job) -> Any:
    return Job.objects.filter(kind=JobKind.TRANSLATE, params__parent=parent.pk).order_by("id")


def _fan_out(parent: Job) -> list[Job]:
    """Create every chunk once (all or nothing): pool chunks are queued, sample chunks wait."""
    existing = list(chunks_of(parent))
    if existing:
        return existing
    params = parent.params
    size = max(1, int(params.get("chunk_size") or settings.TRANSLATION_CHUNK_SIZE))
    languages = langs.resolve(params["languages"])
    tasks = {t.slug: t for t in Task.objects.filter(slug__in=params["tasks"])}
    selections = list(TranslationSelection.objects.filter(task__slug__in=params["tasks"]).select_related("task"))
    pool_sizes = _pool_sizes(list(tasks))
    common = {"parent": parent.pk}
    with transaction.atomic():
        for lang in languages:
            for slug in sorted(tasks):
                if pool_sizes.get(slug):
                    start_job(
                        JobKind.TRANSLATE,
                        CHUNK_TASK,
                        user=parent.created_by,
                        for_task=tasks[slug],
                        params={**common, "phase": "pool", "task": slug, "language": lang.code},
                        total=pool_sizes[slug],
                        message=f"{slug} instructions -> {lang.code}",
                    )
        for lang in languages:
            for selection in sorted(selections, key=lambda s: (s.task.slug, s.split)):
                n = len(selection.sample_ids)
                for start in range(0, n, size):
                    end = min(n, start + size)
                    Job.objects.create(
                        kind=JobKind.TRANSLATE,
                        task_name=CHUNK_TASK,
                        queue=QUEUE,
                        params={
                            **common,
                            "phase": "samples",
                            "task": selection.task.slug,
                            "split": selection.split,
                            "language": lang.code,
                            "start": start,
                            "end": end,
                        },
                        total=end - start,
                        task=selection.task,
                        created_by=parent.created_by,
                        message=f"{selection.task.slug}/{selection.split} [{start}:{end}] -> {lang.code}: waiting "
                        "for the instruction pools",
                        celery_task_id=f"translate-{parent.pk}-{lang.code}-{selection.pk}-{start}",
                    )
    return list(chunks_of(parent))


def _pool_sizes(slugs: list[str]) -> dict[str, int]:
    sizes: dict[str, int] = defaultdict(int)
    for slug in Instruction.objects.filter(task__slug__in=slugs).values_list("task__slug", flat=True):
        sizes[slug] += 1
    return dict(sizes)


def aggregate(parent: Job) -> dict[str, Any]:
    """Per-language done/total and summed counters of the chunks (one query)."""
    by_language: dict[str, list[int]] = {}
    totals: dict[str, float] = defaultdict(float)
    states: dict[str, int] = defaultdict(int)
    done = total = 0
    for row in chunks_of(parent).values("params", "done", "total", "counters", "status"):
        code = row["params"].get("language", "?")
        entry = by_language.setdefault(code, [0, 0])
        entry[0] += row["done"]
        entry[1] += row["total"] or 0
        done += row["done"]
        total += row["total"] or 0
        states[row["status"]] += 1
        for key in STAT_KEYS:
            totals[key] += (row["counters"] or {}).get(key, 0)
    return {
        "done": done,
        "total": total,
        "languages": by_language,
        "counters": {key: int(totals[key]) for key in STAT_KEYS},
        "states": dict(states),
    }


def run_parent(job: Job, progress: Progress) -> dict[str, Any]:
    """Fan out, run the pool chunks, release and run the sample chunks, follow the rest to the end."""
    chunks = _fan_out(job)
    summary = _report(job, progress, force=True)
    try:
        for phase in ("pool", "samples"):
            if phase == "samples":
                for chunk in chunks_of(job).filter(status=JobStatus.QUEUED, params__phase="samples"):
                    send_job(chunk)
            while True:
                open_ids = list(
                    chunks_of(job)
                    .filter(params__phase=phase)
                    .exclude(status__in=Job.TERMINAL)
                    .values_list("id", flat=True)
                )
                if not open_ids:
                    break
                ran = False
                for chunk_id in open_ids:  # idle workers take from the queue too; a claim decides
                    ran = run_job(chunk_id, run_chunk) is not None or ran
                    summary = _report(job, progress)
                if not ran:
                    time.sleep(0.5)
                    summary = _report(job, progress)
    except JobCancelled:
        for chunk in chunks_of(job).filter(status=JobStatus.QUEUED):
            request_cancel(chunk)  # running chunks finish and commit: the cancel takes at their boundary
        raise
    summary = _report(job, progress, force=True)
    if failed := summary["states"].get(JobStatus.FAILED, 0):
        raise TranslationError(f"{failed} chunk(s) failed; see the chunk jobs. Resume to retry them.")
    c = summary["counters"]
    progress.update(
        message=f"{summary['done']} of {summary['total']} translated; {c['sent']} pieces sent, {c['cached']} "
        f"from the cache",
        force=True,
    )
    return {**c, "chunks": len(chunks), "done": summary["done"], "total": summary["total"]}


def _report(job: Job, progress: Progress, force: bool = False) -> dict[str, Any]:
    if not force and time.monotonic() - getattr(progress, "_translation_report", 0.0) < REPORT_EVERY_SECONDS:
        progress.update()  # a throttled write: it still notices a cancel
        return getattr(progress, "_translation_summary", {"states": {}, "counters": {}, "done": 0, "total": 0})
    summary = aggregate(job)
    progress._translation_report = time.monotonic()  # type: ignore[attr-defined]
    progress._translation_summary = summary  # type: ignore[attr-defined]
    c = summary["counters"]
    progress.update(
        done=summary["done"],
        total=summary["total"],
        message=f"{summary['done']}/{summary['total']} · sent {c['sent']} · cached {c['cached']}",
        force=force,
        languages=summary["languages"],
        **c,
    )
    return summary


# --- one chunk ------------------------------------------------------------------------------------


def _known(backend: str, model: str, target: str) -> Any:
    def lookup(units: list[str]) -> dict[str, str]:
        hashes = {text_hash(u): u for u in units}
        found: dict[str, str] = {}
        keys = list(hashes)
        for start in range(0, len(keys), 2000):
            rows = TranslationCache.objects.filter(
                backend=backend, model=model, language=target, text_hash__in=keys[start : start + 2000]
            ).values_list("text_hash", "source", "text")
            for digest, source, text in rows:
                if hashes[digest] == source:
                    found[source] = text
        return found

    return lookup


def _cache_rows(backend: str, model: str, target: str, new: dict[str, str]) -> list[TranslationCache]:
    return [
        TranslationCache(backend=backend, model=model, language=target, text_hash=text_hash(s), source=s, text=t)
        for s, t in new.items()
    ]


def run_chunk(job: Job, progress: Progress) -> dict[str, Any]:
    """One chunk; resumable (skips what is translated) and idempotent (unique rows, ignore_conflicts)."""
    parent = Job.objects.get(pk=job.params["parent"])
    if parent.cancel_requested or parent.status == JobStatus.CANCELLED:
        raise JobCancelled()
    config = config_of(parent.params)
    translator = get_translator(config)
    language = Language.objects.get(code=job.params["language"])
    translator.check_languages([language.nllb_code])
    if job.params["phase"] == "pool":
        stats, written = translate_pool(job, parent, translator, language)
    else:
        stats, written = translate_samples(job, parent, translator, language)
    progress.update(
        done=progress.total or 0,
        message=f"{written} written; {stats.sent} sent, {stats.cached} cached",
        force=True,
        **{key: getattr(stats, key) for key in STAT_KEYS},
        language=language.code,
    )
    return {key: getattr(stats, key) for key in STAT_KEYS} | {"written": written}


def translate_pool(job: Job, parent: Job, translator: Any, language: Language) -> tuple[Stats, int]:
    task = Task.objects.get(slug=job.params["task"])
    done = set(
        TranslatedInstruction.objects.filter(task=task, language=language).values_list("instruction_id", flat=True)
    )
    todo = [
        (pk, text)
        for pk, text in task.instructions.order_by("position", "id").values_list("id", "text")
        if pk not in done
    ]
    target, backend, model = language.nllb_code, translator.name, translator.model_id
    result = translate_texts(translator, [text for _, text in todo], target, known=_known(backend, model, target))
    rows = [
        TranslatedInstruction(
            instruction_id=pk, task=task, language=language, text=out, backend=backend, model=model, job=parent
        )
        for (pk, _), out in zip(todo, result.texts, strict=True)
    ]
    with transaction.atomic():
        TranslationCache.objects.bulk_create(_cache_rows(backend, model, target, result.new), ignore_conflicts=True)
        TranslatedInstruction.objects.bulk_create(rows, ignore_conflicts=True)
    return result.stats, len(rows)


def translate_samples(job: Job, parent: Job, translator: Any, language: Language) -> tuple[Stats, int]:
    params = job.params
    selection = TranslationSelection.objects.get(task__slug=params["task"], split=params["split"])
    ids = selection.sample_ids[params["start"] : params["end"]]
    done = set(Translation.objects.filter(sample_id__in=ids, language=language).values_list("sample_id", flat=True))
    samples = list(
        Sample.objects.filter(id__in=[i for i in ids if i not in done])
        .order_by("id")
        .values_list("id", "instruction_id", "instruction__text", "inputs", "outputs")
    )
    pool = dict(
        TranslatedInstruction.objects.filter(
            language=language, instruction_id__in={s[1] for s in samples if s[1]}
        ).values_list("instruction_id", "text")
    )
    # The strings to send: inputs and outputs, and any instruction not in the translated pool (added since).
    texts: list[str] = []
    missing_pool: dict[int, str] = {}
    for _, instruction_id, instruction, inputs, outputs in samples:
        texts += [inputs, outputs]
        if instruction_id and instruction_id not in pool:
            missing_pool[instruction_id] = instruction
    texts += list(missing_pool.values())
    target, backend, model = language.nllb_code, translator.name, translator.model_id
    started = time.perf_counter()
    result = translate_texts(translator, texts, target, known=_known(backend, model, target))
    seconds = (time.perf_counter() - started) / max(1, len(samples))
    extra = dict(zip(missing_pool, result.texts[2 * len(samples) :], strict=True))
    task_id = selection.task_id
    pool_rows = [
        TranslatedInstruction(
            instruction_id=pk, task_id=task_id, language=language, text=text, backend=backend, model=model, job=parent
        )
        for pk, text in extra.items()
    ]
    pool |= extra
    now = timezone.now()
    rows = [
        Translation(
            sample_id=pk,
            language=language,
            instruction=pool.get(instruction_id, "") if instruction_id else "",
            inputs=result.texts[2 * i],
            outputs=result.texts[2 * i + 1],
            backend=backend,
            model=model,
            seconds=round(seconds, 6),
            job=parent,
            created_at=now,
        )
        for i, (pk, instruction_id, _, _, _) in enumerate(samples)
    ]
    with transaction.atomic():  # the chunk's results commit together, or not at all
        TranslationCache.objects.bulk_create(_cache_rows(backend, model, target, result.new), ignore_conflicts=True)
        TranslatedInstruction.objects.bulk_create(pool_rows, ignore_conflicts=True)
        Translation.objects.bulk_create(rows, ignore_conflicts=True)
    return result.stats, len(rows)
