"""The M3IT record, as the exporter writes it and as QC's load check re-reads it.

One JSON object per line with exactly the keys `instruction`, `inputs`, `outputs`,
`image_base64_str` (a list: one image, several, or video frames) and `meta` (a dict).
Key order is fixed and nested dict keys are sorted, so the same data gives the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Iterable
from typing import Any

import orjson
import pybase64
from PIL import Image as PILImage

from pipeline.media.images import read_image_bytes
from pipeline.models import ParaphraseState, Sample

RECORD_KEYS = ("instruction", "inputs", "outputs", "image_base64_str", "meta")


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def record_meta(sample: Sample) -> dict[str, Any]:
    """The source ids and provenance kept with each record."""
    meta = dict(sample.meta or {})
    meta.setdefault("source_id", sample.source_id)
    meta.setdefault("split", sample.split)
    if sample.paraphrase_state in (ParaphraseState.ACCEPTED, ParaphraseState.FALLBACK):
        meta.setdefault("original_answer", sample.original_output)
    return _sorted(meta)


def encode_image(data: bytes) -> str:
    """An image file as base64 text. pybase64 (SIMD) gives the same text as `base64.b64encode`, many
    times faster, and releases the GIL, so the exporter's reader threads encode in parallel."""
    return pybase64.b64encode(data).decode("ascii")


def build_record(
    sample: Sample, images: Iterable[bytes] = (), *, encoded: Iterable[str] | None = None
) -> dict[str, Any]:
    """A sample as an M3IT record. `images` are the encoded image files, in the sample's order;
    or pass `encoded`, the same files already through `encode_image`."""
    return {
        "instruction": sample.instruction.text if sample.instruction_id else "",
        "inputs": sample.inputs,
        "outputs": sample.outputs,
        "image_base64_str": list(encoded) if encoded is not None else [encode_image(data) for data in images],
        "meta": record_meta(sample),
    }


def sample_image_bytes(sample: Sample) -> list[bytes]:
    """The sample's image files in order (prefetch `sample_images__image` to avoid a query per sample)."""
    return [read_image_bytes(link.image) for link in sample.sample_images.all()]


def encode_line(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


def decode_line(line: bytes | str) -> dict[str, Any]:
    return orjson.loads(line)


def check_record(record: Any, instruction_pool: set[str] | None = None) -> list[str]:
    """Problems that would make a record unusable; an empty list means it loads and checks out."""
    if not isinstance(record, dict):
        return ["record is not a JSON object"]
    problems = []
    keys = set(record)
    if missing := [k for k in RECORD_KEYS if k not in keys]:
        problems.append(f"missing field(s): {', '.join(missing)}")
    if extra := sorted(keys - set(RECORD_KEYS)):
        problems.append(f"unexpected field(s): {', '.join(extra)}")
    for key in ("instruction", "inputs", "outputs"):
        if key in record and not isinstance(record[key], str):
            problems.append(f"{key} must be a string")
    if isinstance(record.get("outputs"), str) and not record["outputs"].strip():
        problems.append("outputs is empty")
    if isinstance(record.get("instruction"), str):
        if not record["instruction"].strip():
            problems.append("instruction is empty")
        elif instruction_pool is not None and record["instruction"] not in instruction_pool:
            problems.append("instruction is not in the task's instruction pool")
    if "meta" in record and not isinstance(record["meta"], dict):
        problems.append("meta must be an object")
    images = record.get("image_base64_str")
    if "image_base64_str" in record:
        if not isinstance(images, list) or not images:
            problems.append("image_base64_str must be a non-empty list of strings")
        else:
            for index, encoded in enumerate(images):
                problem = _image_problem(encoded)
                if problem:
                    problems.append(f"image {index}: {problem}")
    return problems


def _image_problem(encoded: Any) -> str | None:
    if not isinstance(encoded, str):
        return "not a string"
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return "not valid base64"
    try:
        with PILImage.open(io.BytesIO(data)) as img:
            img.verify()
    except Exception as exc:  # any decoder error means the image is unusable
        return f"does not decode as an image ({type(exc).__name__})"
    return None
