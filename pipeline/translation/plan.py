"""What a translation run will do, before it starts: the source selection, the strings, the cache, the time.

- Selection: for each chosen task's evaluation splits (val, test) up to TRANSLATION_SAMPLES_PER_SPLIT
  samples, drawn with a seed from the split's ids (all of a smaller split; all of Winoground's test).
  The draw is recorded (TranslationSelection) when a run starts, and a recorded one is always reused,
  so the translated set is reproducible and a resumed run translates the same rows.
- Strings: the samples' instructions, inputs and outputs plus the task's instruction pool; what is sent
  is each distinct translatable piece (pipeline.translation.text.structure) once per language.
- Cache: how many of those pieces TranslationCache already holds for the configured backend and model.
- Time: pieces still to send / the pieces-per-second of a short calibration run of the configured
  backend on this machine (a translate job with params.calibrate), divided by TRANSLATION_WORKERS.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count

from annotator.models import Instruction, Task

from ..models import Job, JobKind, JobStatus, Language, Sample, SampleQCState, TranslationCache, TranslationSelection
from . import languages as langs
from .backends.base import BackendConfig, load_tokenizer, resolve_model_dir
from .errors import ModelNotFound, TranslationError
from .text import structure

QUERY_BATCH = 2000


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class SplitPlan:
    task: str
    split: str
    split_size: int
    sample_ids: list[int]
    limit: int | None
    recorded: bool

    @property
    def label(self) -> str:
        return f"{self.task}/{self.split}"


@dataclass
class Plan:
    backend: str
    model: str
    seed: int
    tasks: list[str]
    languages: list[Language]
    splits: list[SplitPlan] = field(default_factory=list)
    pools: dict[str, list[str]] = field(default_factory=dict)
    strings: int = 0  # distinct source strings (instructions, inputs, outputs, pool)
    pieces: int = 0  # distinct pieces sent per language
    tokens: int = 0  # their source tokens, per language
    tokens_estimated: bool = False  # True: characters / 4 (no tokenizer for this backend)
    cached: dict[str, int] = field(default_factory=dict)  # NLLB code -> pieces already in the cache
    calibration: dict[str, Any] | None = None

    @property
    def samples(self) -> int:
        return sum(len(s.sample_ids) for s in self.splits)

    @property
    def translations(self) -> int:
        """Sample translations the run produces (samples x languages)."""
        return self.samples * len(self.languages)

    @property
    def pieces_to_send(self) -> int:
        return sum(max(0, self.pieces - self.cached.get(lang.nllb_code, 0)) for lang in self.languages)

    @property
    def pieces_cached(self) -> int:
        return sum(min(self.pieces, self.cached.get(lang.nllb_code, 0)) for lang in self.languages)

    @property
    def estimate_seconds(self) -> float | None:
        if not self.calibration or not self.calibration.get("pieces_per_second"):
            return None
        workers = max(1, settings.TRANSLATION_WORKERS)
        return self.pieces_to_send / self.calibration["pieces_per_second"] / workers

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "model": self.model,
            "seed": self.seed,
            "tasks": self.tasks,
            "languages": [lang.code for lang in self.languages],
            "splits": [
                {
                    "task": s.task,
                    "split": s.split,
                    "split_size": s.split_size,
                    "selected": len(s.sample_ids),
                    "recorded": s.recorded,
                }
                for s in self.splits
            ],
            "pool_instructions": {slug: len(pool) for slug, pool in self.pools.items()},
            "samples": self.samples,
            "translations": self.translations,
            "strings": self.strings,
            "pieces": self.pieces,
            "tokens": self.tokens,
            "tokens_estimated": self.tokens_estimated,
            "pieces_to_send": self.pieces_to_send,
            "pieces_cached": self.pieces_cached,
            "estimate_seconds": self.estimate_seconds,
            "calibration": self.calibration,
        }


def translated_tasks(slugs: list[str] | None = None) -> list[Task]:
    """The tasks marked for translation (or those named), in slug order; unknown slugs are refused."""
    if slugs is None:
        return list(Task.objects.filter(translated=True).order_by("slug"))
    tasks = list(Task.objects.filter(slug__in=slugs).order_by("slug"))
    if unknown := sorted(set(slugs) - {t.slug for t in tasks}):
        raise TranslationError(f"Unknown task(s): {', '.join(unknown)}.")
    return tasks


def limit_for(task: Task, split: str) -> int | None:
    if (task.slug, split) in langs.WHOLE_SPLITS:
        return None
    return settings.TRANSLATION_SAMPLES_PER_SPLIT


def draw(ids: list[int], limit: int | None, seed: int, task: str, split: str) -> list[int]:
    """A seeded draw of up to `limit` ids (all of them when fewer), ascending."""
    if limit is None or len(ids) <= limit:
        return sorted(ids)
    return sorted(random.Random(f"{seed}:{task}:{split}").sample(sorted(ids), limit))


def select_splits(tasks: list[Task], seed: int) -> list[SplitPlan]:
    """Each task's evaluation splits with samples: the recorded selection, or a fresh seeded draw."""
    recorded = {(s.task_id, s.split): s for s in TranslationSelection.objects.filter(task__in=tasks)}
    eligible = Sample.objects.filter(task__in=tasks, split__in=langs.EVAL_SPLITS).exclude(
        qc_state=SampleQCState.REJECTED
    )
    ids: dict[tuple[int, str], list[int]] = {}
    for task_id, split, pk in eligible.order_by("task_id", "split", "id").values_list("task_id", "split", "id"):
        ids.setdefault((task_id, split), []).append(pk)
    out = []
    for task in tasks:
        for split in langs.EVAL_SPLITS:
            row = recorded.get((task.pk, split))
            if row is not None:
                out.append(SplitPlan(task.slug, split, row.split_size, list(row.sample_ids), row.limit, True))
                continue
            split_ids = ids.get((task.pk, split))
            if not split_ids:
                continue
            limit = limit_for(task, split)
            out.append(
                SplitPlan(
                    task.slug, split, len(split_ids), draw(split_ids, limit, seed, task.slug, split), limit, False
                )
            )
    return out


def record_selections(plan: Plan, user: Any = None) -> None:
    """Freeze the plan's draws (a recorded selection is never redrawn)."""
    tasks = {t.slug: t for t in Task.objects.filter(slug__in=plan.tasks)}
    for item in plan.splits:
        if item.recorded:
            continue
        TranslationSelection.objects.get_or_create(
            task=tasks[item.task],
            split=item.split,
            defaults={
                "seed": plan.seed,
                "limit": item.limit,
                "split_size": item.split_size,
                "sample_ids": item.sample_ids,
                "created_by": user if getattr(user, "pk", None) else None,
            },
        )
        item.recorded = True


def source_strings(plan: Plan) -> list[str]:
    """Every distinct source string of the plan (instructions, inputs, outputs, pools), streamed by id."""
    seen: dict[str, None] = {}
    for pool in plan.pools.values():
        seen.update(dict.fromkeys(t for t in pool if t.strip()))
    for item in plan.splits:
        for start in range(0, len(item.sample_ids), QUERY_BATCH):
            rows = Sample.objects.filter(id__in=item.sample_ids[start : start + QUERY_BATCH]).values_list(
                "instruction__text", "inputs", "outputs"
            )
            for row in rows:
                seen.update(dict.fromkeys(t for t in row if t and t.strip()))
    return list(seen)


def pieces_of(strings: list[str]) -> list[str]:
    return list(dict.fromkeys(part for text in strings for send, part in structure(text) if send))


def cached_counts(backend: str, model: str, pieces: list[str], codes: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    hashes = [text_hash(p) for p in pieces]
    for start in range(0, len(hashes), QUERY_BATCH):
        rows = (
            TranslationCache.objects.filter(
                backend=backend, model=model, language__in=codes, text_hash__in=hashes[start : start + QUERY_BATCH]
            )
            .values("language")
            .annotate(n=Count("id"))
        )
        for row in rows:
            counts[row["language"]] = counts.get(row["language"], 0) + row["n"]
    return counts


def count_tokens(config: BackendConfig, pieces: list[str]) -> tuple[int, bool]:
    """Source tokens of the pieces with the model's tokenizer (loaded alone, not the model)."""
    if config.backend == "openai" or not pieces:
        return sum(len(p) // 4 + 1 for p in pieces), True
    try:
        tokenizer = load_tokenizer(resolve_model_dir(config.model))
    except ModelNotFound:  # the plan still shows; starting says what is missing
        return sum(len(p) // 4 + 1 for p in pieces), True
    total = 0
    for start in range(0, len(pieces), QUERY_BATCH):
        total += sum(len(ids) for ids in tokenizer(pieces[start : start + QUERY_BATCH])["input_ids"])
    return total, False


def latest_calibration(backend: str, model: str) -> dict[str, Any] | None:
    job = (
        Job.objects.filter(
            kind=JobKind.TRANSLATE,
            status=JobStatus.SUCCEEDED,
            params__calibrate=True,
            params__backend=backend,
            params__model=model,
        )
        .order_by("-finished_at", "-id")
        .first()
    )
    return {**job.result, "job": job.pk, "at": job.finished_at.isoformat()} if job and job.result else None


def build_plan(
    task_slugs: list[str] | None = None,
    language_codes: list[str] | None = None,
    config: BackendConfig | None = None,
    seed: int | None = None,
    count: bool = True,
) -> Plan:
    """The plan for these tasks (default: those marked for translation) and languages (default: all)."""
    config = config or BackendConfig.from_settings()
    languages = langs.resolve(language_codes)
    tasks = translated_tasks(task_slugs)
    seed = settings.TRANSLATION_SEED if seed is None else seed
    plan = Plan(config.backend, config.model, seed, [t.slug for t in tasks], languages)
    plan.splits = select_splits(tasks, seed)
    pools: dict[str, list[str]] = {t.slug: [] for t in tasks}
    for slug, text in (
        Instruction.objects.filter(task__in=tasks)
        .order_by("task__slug", "position", "id")
        .values_list("task__slug", "text")
    ):
        pools[slug].append(text)
    plan.pools = pools
    if count:
        strings = source_strings(plan)
        pieces = pieces_of(strings)
        plan.strings, plan.pieces = len(strings), len(pieces)
        plan.tokens, plan.tokens_estimated = count_tokens(config, pieces)
        plan.cached = cached_counts(config.backend, config.model, pieces, [lang.nllb_code for lang in languages])
        plan.calibration = latest_calibration(config.backend, config.model)
    return plan


def calibrate(config: BackendConfig, texts: list[str], target: str, pieces: int = 64) -> dict[str, Any]:
    """Translate up to `pieces` of the given strings (no cache) and time it: the rate the estimate uses.

    The model load and one warm-up batch are timed apart, so the rate is the steady one a run sees.
    """
    from .backends import get_translator
    from .text import translate_texts

    started = time.perf_counter()
    translator = get_translator(config)
    translator.check_languages([target])
    load_seconds = time.perf_counter() - started
    sample = pieces_of(texts)[:pieces] or ["Describe the image briefly."]
    translate_texts(translator, sample[:4], target)
    result = translate_texts(translator, sample, target)
    seconds = max(result.stats.seconds, 1e-6)
    return {
        "backend": config.backend,
        "model": config.model,
        "target": target,
        "pieces": result.stats.sent,
        "tokens": result.stats.tokens,
        "seconds": round(seconds, 4),
        "pieces_per_second": round(result.stats.sent / seconds, 2),
        "load_seconds": round(load_seconds, 2),
    }
