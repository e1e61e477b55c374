"""The records to evaluate, read line by line from an export folder (ours, with a manifest, or the
published M3IT layout `data/<folder>/<task_dir>/<split>.jsonl` without one)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from PIL import Image

from .prompt import build_prompt

VIDEO_FRAMES = 8  # the paper: 8 uniformly sampled frames per video
REGISTRY = Path(__file__).resolve().parents[2] / "annotator" / "m3it_tasks.json"  # read as a data file only
SPLIT_FILES = {"train": ("train.jsonl",), "val": ("val.jsonl", "validation.jsonl"), "test": ("test.jsonl",)}


class RecordsError(Exception):
    """The export cannot be read as asked (missing split, unknown task): a clear message for the user."""


@dataclass(frozen=True)
class TaskInfo:
    slug: str
    group: str
    modality: str = "image"
    language: str = "en"
    held_in: bool = True


@dataclass
class EvalItem:
    """One record to answer: what the model sees (prompt, images) and what it is scored against."""

    task: str
    record_id: str
    instruction: str
    inputs: str
    reference: str
    images_b64: list[str] = field(default_factory=list)
    prompt: str = ""
    chinese_priming: bool = False

    def images(self) -> list[Image.Image]:
        return [Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB") for data in self.images_b64]


@cache
def registry() -> dict[str, TaskInfo]:
    """slug -> TaskInfo from the 40-task M3IT registry file."""
    rows = json.loads(REGISTRY.read_text())
    return {r["slug"]: TaskInfo(r["slug"], r["group"], r["modality"], r["language"], r["held_in"]) for r in rows}


def task_groups() -> dict[str, str]:
    return {slug: info.group for slug, info in registry().items()}


def frames(images: list[str], modality: str, count: int = VIDEO_FRAMES) -> list[str]:
    """A video's frames, `count` of them uniformly spaced; other records' images unchanged."""
    if modality != "video" or len(images) <= count:
        return images
    return [images[i] for i in np.linspace(0, len(images) - 1, count).round().astype(int)]


def split_files(root: Path, split: str) -> list[tuple[TaskInfo, Path]]:
    """(task, file) for every task of `split` in an export folder."""
    if split not in SPLIT_FILES:
        raise RecordsError(f"unknown split {split!r}; use train, val or test")
    if not (root / "data").is_dir():
        raise RecordsError(f"{root} is not an export folder (no data/ in it)")
    manifest = root / "manifest.json"
    known = registry()
    found: list[tuple[TaskInfo, Path]] = []
    if manifest.is_file():
        for entry in orjson.loads(manifest.read_bytes())["tasks"]:
            if split in entry["splits"]:
                info = TaskInfo(entry["slug"], entry["group"], entry["modality"], entry["language"], entry["held_in"])
                found.append((info, root / entry["splits"][split]["file"]))
        return found
    by_dir = {}
    for row in json.loads(REGISTRY.read_text()):
        by_dir[(row["folder"], row["task_dir"])] = known[row["slug"]]
    for task_dir in sorted((root / "data").glob("*/*")):
        info = by_dir.get((task_dir.parent.name, task_dir.name))
        names = [task_dir / n for n in SPLIT_FILES[split]] + sorted(task_dir.glob(f"*_{split}.jsonl"))
        path = next((p for p in names if p.is_file()), None)
        if info is not None and path is not None:
            found.append((info, path))
    return found


def read_items(
    root: Path | str,
    split: str,
    tasks: list[str] | None = None,
    limit_per_task: int | None = None,
    chinese_priming: bool = False,
) -> Iterator[tuple[TaskInfo, EvalItem]]:
    """Stream the records of `split` (optionally only `tasks`), one line at a time."""
    root = Path(root)
    files = split_files(root, split)
    if tasks:
        missing = sorted(set(tasks) - {info.slug for info, _ in files})
        if missing:
            raise RecordsError(f"no {split} split in {root} for: {', '.join(missing)}")
        files = [(info, path) for info, path in files if info.slug in tasks]
    if not files:
        raise RecordsError(f"{root} has no {split} split to evaluate")
    for info, path in files:
        with path.open("rb") as handle:
            for line_no, line in enumerate(handle):
                if limit_per_task is not None and line_no >= limit_per_task:
                    break
                if not line.strip():
                    continue
                record: dict[str, Any] = orjson.loads(line)
                meta = record.get("meta") or {}
                item = EvalItem(
                    task=info.slug,
                    record_id=str(meta.get("id", line_no)) if isinstance(meta, dict) else str(line_no),
                    instruction=record.get("instruction", ""),
                    inputs=record.get("inputs", ""),
                    reference=record.get("outputs", ""),
                    images_b64=frames(list(record.get("image_base64_str") or []), info.modality),
                )
                item.chinese_priming = chinese_priming and info.group == "chinese"
                item.prompt = build_prompt(item.instruction, item.inputs, chinese=item.chinese_priming)
                yield info, item


def count_items(root: Path | str, split: str, tasks: list[str] | None = None, limit_per_task: int | None = None) -> int:
    total = 0
    for info, path in split_files(Path(root), split):
        if tasks and info.slug not in tasks:
            continue
        with path.open("rb") as handle:
            n = sum(1 for line in handle if line.strip())
        total += min(n, limit_per_task) if limit_per_task is not None else n
    return total
