"""The M3IT-80 part of an export: which translated files an export writes, and their records.

For each approved evaluation split in an export whose task has a recorded translation selection:

    data/<task>/<split>_500.jsonl                 the English source rows of the selection
    data/<task>/<task>_<split>_<lang>.jsonl       the same rows translated (short language codes)
    data/instructions/<lang>.jsonl                one line per task: {"task", "instructions"} translated

A language is written for a split only when every selected sample has its translation; a (task,
language) a reviewer marked unusable is left out and named with the note, as is an incomplete one.
The export writer (pipeline.export) streams these files like any split file: same chunks, same
checkpoints, same checksums, same determinism (samples by id, fixed key order).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import orjson
from django.db.models import Count

from ..models import (
    Image,
    Language,
    Sample,
    SampleImage,
    SampleQCState,
    TranslatedInstruction,
    Translation,
    TranslationSelection,
    TranslationUnusable,
)
from .languages import EVAL_SPLITS

RESERVED_DIRS = {"instructions", "captioning", "classification", "vqa", "reasoning", "generation"}


def source_path(task: str, split: str) -> str:
    return f"data/{task}/{split}_500.jsonl"


def translated_path(task: str, split: str, code: str) -> str:
    return f"data/{task}/{task}_{split}_{code}.jsonl"


def pool_path(code: str) -> str:
    return f"data/instructions/{code}.jsonl"


def plan_translated(included: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(files to write, left-out translations with reasons) for an export's included splits."""
    wanted = [i for i in included if i["split"] in EVAL_SPLITS]
    if not wanted:
        return [], []
    slugs = {i["task"] for i in wanted}
    selections = {
        (s.task.slug, s.split): s
        for s in TranslationSelection.objects.filter(task__slug__in=slugs).select_related("task")
    }
    languages = {lang.pk: lang for lang in Language.objects.all()}
    unusable = {
        (u.task.slug, u.language_id): u for u in TranslationUnusable.objects.select_related("task", "marked_by")
    }
    files: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    pools: dict[str, list[str]] = defaultdict(list)
    for item in sorted(wanted, key=lambda i: (i["task"], i["split"])):
        selection = selections.get((item["task"], item["split"]))
        if selection is None or item["task"] in RESERVED_DIRS:
            continue
        ids = list(
            Sample.objects.filter(id__in=selection.sample_ids, id__lte=item["max_id"])
            .exclude(qc_state=SampleQCState.REJECTED)
            .order_by("id")
            .values_list("id", flat=True)
        )
        if not ids:
            continue
        counts = dict(
            Translation.objects.filter(sample_id__in=ids)
            .values("language_id")
            .annotate(n=Count("id"))
            .values_list("language_id", "n")
        )
        written = []
        for language_id, n in sorted(counts.items(), key=lambda kv: languages[kv[0]].code):
            lang = languages[language_id]
            mark = unusable.get((item["task"], language_id))
            reason = None
            if mark is not None:
                who = mark.marked_by.get_username() if mark.marked_by else "a reviewer"
                reason = f"{lang.code}: marked unusable by {who}: {mark.note}"
            elif n < len(ids):
                reason = f"{lang.code}: incomplete, {n} of {len(ids)} samples translated"
            if reason:
                excluded.append({"task": item["task"], "split": item["split"], "language": lang.code, "reason": reason})
                continue
            written.append(lang.code)
            files.append(
                {
                    "kind": "translation",
                    "task": item["task"],
                    "split": item["split"],
                    "language": lang.code,
                    "path": translated_path(item["task"], item["split"], lang.code),
                    "records": len(ids),
                    "sample_ids": ids,
                    "max_id": ids[-1],
                }
            )
            if item["task"] not in pools[lang.code]:
                pools[lang.code].append(item["task"])
        if written:
            files.append(
                {
                    "kind": "source",
                    "task": item["task"],
                    "split": item["split"],
                    "path": source_path(item["task"], item["split"]),
                    "records": len(ids),
                    "sample_ids": ids,
                    "max_id": ids[-1],
                }
            )
    for code, tasks in sorted(pools.items()):
        files.append(
            {"kind": "pool", "language": code, "tasks": sorted(tasks), "path": pool_path(code), "records": len(tasks)}
        )
    files.sort(key=lambda f: f["path"])
    return files, excluded


def pool_bytes(item: dict[str, Any]) -> bytes:
    """data/instructions/<lang>.jsonl: one line per task, its translated pool in pool order."""
    language = Language.objects.get(code=item["language"])
    by_task: dict[str, list[str]] = defaultdict(list)
    rows = (
        TranslatedInstruction.objects.filter(language=language, task__slug__in=item["tasks"])
        .order_by("task__slug", "instruction__position", "instruction_id")
        .values_list("task__slug", "text")
    )
    for slug, text in rows:
        by_task[slug].append(text)
    return b"".join(
        orjson.dumps({"task": slug, "instructions": by_task[slug]}, option=orjson.OPT_APPEND_NEWLINE)
        for slug in item["tasks"]
    )


def selection_chunks(item: dict[str, Any], after_id: int, size: int) -> Iterator[list[tuple[Sample, list[Image]]]]:
    """The item's samples (id > after_id) in id order with their images, and their translation attached."""
    ids = [i for i in item["sample_ids"] if i > after_id]
    language = Language.objects.get(code=item["language"]) if item["kind"] == "translation" else None
    for start in range(0, len(ids), size):
        part = ids[start : start + size]
        samples = list(Sample.objects.filter(id__in=part).select_related("instruction").order_by("id"))
        images: dict[int, list[Image]] = {s.pk: [] for s in samples}
        for link in (
            SampleImage.objects.filter(sample_id__in=images).select_related("image").order_by("sample_id", "position")
        ):
            images[link.sample_id].append(link.image)
        if language is not None:
            found = {t.sample_id: t for t in Translation.objects.filter(sample_id__in=part, language=language)}
            for sample in samples:
                sample.translation = found[sample.pk]  # planned complete; a deleted one fails loudly
        yield [(s, images[s.pk]) for s in samples]


def translate_record(record: dict[str, Any], sample: Sample, code: str) -> dict[str, Any]:
    """An English record turned into its translated record (same images, meta with the language)."""
    translation = sample.translation
    meta = dict(record["meta"])
    meta["language"] = code
    return {
        **record,
        "instruction": translation.instruction,
        "inputs": translation.inputs,
        "outputs": translation.outputs,
        "meta": {key: meta[key] for key in sorted(meta)},
    }


def manifest_section(files: list[dict[str, Any]], excluded: list[dict[str, Any]]) -> dict[str, Any]:
    """Languages, models and counts of the translated part, for manifest.json and the card."""
    translated = [f for f in files if f["kind"] == "translation"]
    ids = {i for f in translated for i in f["sample_ids"]}
    codes = sorted({f["language"] for f in translated})
    models = sorted(
        {
            f"{backend}:{model}"
            for backend, model in Translation.objects.filter(sample_id__in=ids, language__code__in=codes)
            .values_list("backend", "model")
            .distinct()
        }
    )
    names = dict(Language.objects.filter(code__in=codes).values_list("code", "name"))
    tasks = sorted({f["task"] for f in translated})
    return {
        "languages": [{"code": code, "name": names.get(code, code)} for code in codes],
        "models": models,
        "tasks": tasks,
        "files": [{k: f[k] for k in ("path", "kind", "task", "split", "language", "records") if k in f} for f in files],
        "records": sum(f["records"] for f in translated),
        "excluded": excluded,
        "configs": [
            {
                "name": f"{f['task']}-{f['language']}",
                "split": "validation" if f["split"] == "val" else "test",
                "path": f["path"],
            }
            for f in translated
        ],
    }
