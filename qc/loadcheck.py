"""The load check: serialise the reviewed samples exactly as the exporter will, read them back, check each record.

The paper counts a task done only when the reviewer can load it and re-check it; this is that step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.utils import timezone

from pipeline.export.record import build_record, check_record, decode_line, encode_line, sample_image_bytes
from pipeline.models import Sample


def serialise(samples: Iterable[Sample]) -> list[tuple[int, bytes | None]]:
    """(sample id, JSONL line) per sample, through the exporter's build_record/encode_line.

    A sample whose image files cannot be read gives None, which the check reports.
    """
    lines = []
    for sample in samples:
        try:
            images = sample_image_bytes(sample)
        except OSError:
            lines.append((sample.pk, None))
            continue
        lines.append((sample.pk, encode_line(build_record(sample, images))))
    return lines


def check_lines(lines: Sequence[tuple[int, bytes | None]], instruction_pool: set[str]) -> dict[str, Any]:
    """Re-read each line and check the record; the result is a JSON-ready summary."""
    problems: dict[str, list[str]] = {}
    for sample_id, line in lines:
        if line is None:
            problems[str(sample_id)] = ["an image file of the sample cannot be read from storage"]
            continue
        try:
            record = decode_line(line)
        except ValueError as exc:
            problems[str(sample_id)] = [f"line does not load as JSON ({exc})"]
            continue
        found = check_record(record, instruction_pool)
        if found:
            problems[str(sample_id)] = found
    return {
        "ok": bool(lines) and not problems,
        "records": len(lines),
        "bytes": sum(len(line or b"") for _, line in lines),
        "problems": problems,
        "checked_at": timezone.now().isoformat(),
    }


def load_check(samples: Sequence[Sample], instruction_pool: set[str]) -> dict[str, Any]:
    """Prefetch `instruction` and `sample_images__image` on `samples` to keep this to no extra query."""
    return check_lines(serialise(samples), instruction_pool)
