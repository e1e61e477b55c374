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


def _first(record: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, Any]:
    """(key, value) of the first of `keys` the record has with a value (not null), or (keys[0], None)."""
    for key in keys:
        if record.get(key) is not None:
            return key, record[key]
    return keys[0], None


def decode_images(value: Any, key: str = "image_base64_str") -> list[bytes]:
    """The record's images: a non-empty list of base64 strings. Raises ValueError with the reason."""
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list of base64 strings, not {_kind(value)}")
    if not value:
        raise ValueError(f"{key} is an empty list")
    images = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise ValueError(f"image {index} is not a base64 string but {_kind(item)}")
        try:
            images.append(base64.b64decode(item, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"image {index} is not valid base64") from exc
    return images


def _kind(value: Any) -> str:
    """A JSON type name for messages: "a list", "a number", "null"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def type_problems(record: dict[str, Any]) -> list[str]:
    """Every missing key and every value of the wrong JSON type, in key order (one message per line)."""
    missing: list[str] = []
    wrong: list[str] = []
    for keys, want, wanted in (
        (("instruction",), str, "a string"),
        (INPUT_KEYS, str, "a string"),
        (OUTPUT_KEYS, str, "a string"),
        (IMAGE_KEYS, list, "a list of base64 strings"),
        (("meta",), dict, "an object"),
    ):
        key, value = _first(record, keys)
        if value is None:
            missing.append(keys[0])
        elif not isinstance(value, want):
            wrong.append(f"{key} must be {wanted}, not {_kind(value)}")
    problems = [f"missing field(s): {', '.join(missing)}"] if missing else []
    return problems + wrong


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
        if problems := type_problems(record):
            return Rejected(where, "; ".join(problems), source_id)
        image_key, images_value = _first(record, IMAGE_KEYS)
        _key, outputs = _first(record, OUTPUT_KEYS)
        if not outputs.strip():
            return Rejected(where, "outputs is empty", source_id)
        try:
            images = decode_images(images_value, image_key)
        except ValueError as exc:
            return Rejected(where, str(exc), source_id)
        original = meta.get("original_answer") or record.get("original_answer")
        if original is not None and not isinstance(original, str):
            return Rejected(where, f"original_answer must be a string, not {_kind(original)}", source_id)
        instruction = record["instruction"]
        return Draft(
            source_id=source_id,
            media=[ImageData(data) for data in images],
            inputs=_first(record, INPUT_KEYS)[1],
            output=outputs,
            meta={"source_dataset": "m3it", **{k: v for k, v in meta.items() if k != "source_id"}},
            where=where,
            instruction_text=instruction if instruction.strip() else None,
            original_output=original or None,
        )
