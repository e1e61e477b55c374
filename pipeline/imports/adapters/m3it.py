"""M3IT's own JSONL (instruction, inputs, outputs, image_base64_str, meta), so a published task file
(or one of our exports) can be imported again."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from pipeline.imports.adapters.base import (
    Adapter,
    Draft,
    FileSpec,
    ImageData,
    Location,
    Rejected,
    Row,
    SourceFiles,
    Target,
)

# The published files use several key names; the loader (M3IT.py) maps them the same way.
IMAGE_KEYS = ("image_base64_str", "img_str", "image_str", "video_str")
OUTPUT_KEYS = ("outputs", "output", "paraphrased_answer", "answer", "caption")
INPUT_KEYS = ("inputs", "input", "question")


def _first(record: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if record.get(key) not in (None, ""):
            return record[key]
    return None


def decode_images(value: Any) -> list[bytes]:
    """The record's images: a base64 string or a list of them. Raises ValueError with the reason."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("image_base64_str is an empty list")
    images = []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise ValueError(f"image {index} is not a base64 string")
        try:
            images.append(base64.b64decode(item, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"image {index} is not valid base64") from exc
    return images


class M3ITAdapter(Adapter):
    name = "m3it-jsonl"
    label = "M3IT JSONL (re-import)"
    description = (
        "A task file of the published M3IT dataset (or one of our exports): one JSON object per line with "
        "instruction, inputs, outputs, image_base64_str and meta. The record's instruction is kept when it is "
        "in the task's pool, otherwise one is drawn and the original goes into meta."
    )
    files = (FileSpec("records", "jsonl", "train.jsonl", "the M3IT task file of one split"),)

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        label = source.name("records")
        path: Path = source.file("records")
        with path.open("rb") as handle:
            source.track(handle, path.stat().st_size)
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                yield self._row(raw, Location(label, number))

    def _row(self, raw: bytes, where: Location) -> Row:
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return Rejected(where, f"not valid JSON ({exc.msg} at column {exc.colno})")
        if not isinstance(record, dict):
            return Rejected(where, "record is not a JSON object")
        meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
        source_id = str(meta.get("source_id") or "") or f"sha-{hashlib.sha256(raw.strip()).hexdigest()[:20]}"
        images_value = _first(record, IMAGE_KEYS)
        outputs = _first(record, OUTPUT_KEYS)
        missing = [name for name, value in (("image_base64_str", images_value), ("outputs", outputs)) if not value]
        if missing:
            return Rejected(where, f"missing field(s): {', '.join(missing)}", source_id)
        try:
            images = decode_images(images_value)
        except ValueError as exc:
            return Rejected(where, str(exc), source_id)
        original = meta.get("original_answer") or record.get("original_answer")
        instruction = record.get("instruction")
        return Draft(
            source_id=source_id,
            media=[ImageData(data) for data in images],
            inputs=str(_first(record, INPUT_KEYS) or ""),
            output=str(outputs),
            meta={"source_dataset": "m3it", **{k: v for k, v in meta.items() if k != "source_id"}},
            where=where,
            instruction_text=instruction if isinstance(instruction, str) and instruction.strip() else None,
            original_output=str(original) if original else None,
        )
