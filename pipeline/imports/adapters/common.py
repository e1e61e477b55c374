"""Helpers the captioning, classification and generation adapters share, on top of `base`: text files
(plain or gzip), a question with lettered options, a source's own split names, lookups on a keyed index,
ids as ints, the video frames option."""

from __future__ import annotations

import contextlib
import gzip
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from pipeline.imports.adapters.base import (
    ImportInputError,
    KeyedIndex,
    OptionSpec,
    SourceFiles,
    Target,
    lettered,
)


def text_lines(path: Path, label: str, tracker: SourceFiles | None = None) -> Iterator[tuple[int, str]]:
    """(line number, text without the newline) of a UTF-8 text file; `.gz` files are read compressed
    (Multi30k's raw/*.gz, COCO-CN's caption lists, MMChat's URL lists)."""
    number = 0
    with path.open("rb") as raw:
        if tracker is not None:
            tracker.track(raw, path.stat().st_size)
        with gzip.open(raw) if path.suffix == ".gz" else contextlib.nullcontext(raw) as handle:
            try:
                for line in handle:
                    number += 1
                    yield number, line.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise ImportInputError(f"{label} line {number + 1} is not UTF-8 text") from exc
            except (OSError, EOFError) as exc:
                raise ImportInputError(f"{label} cannot be read after line {number}: {exc}") from exc


def with_options(question: str, choices: list[str]) -> str:
    """The question, then "Options:" and the lettered choices, as M3IT's classification inputs read."""
    return f"{question}\nOptions:\n{lettered(choices)}"


def split_name(target: Target, names: dict[str, str], given: str = "") -> str:
    """The source's own name of the target split (MSR-VTT "validate", KonIQ "validation"), or `given`."""
    return given or names.get(target.split, target.split)


def first_value(index: KeyedIndex, key: Any, default: Any = None) -> Any:
    """The first value indexed under `key`, or `default`."""
    found = index.get(key, limit=1)
    return found[0] if found else default


def value_of_another_key(index: KeyedIndex, key: Any, rng: random.Random) -> tuple[str, Any] | None:
    """A random (key, value) of the index whose key is not `key` (a negative from another image); None if
    every value has that key. One or two indexed queries, whatever the size of the index."""
    last = index.db.execute("SELECT max(id) FROM kv").fetchone()[0]
    if not last:
        return None
    start = rng.randint(1, last)
    for query in (
        "SELECT key, value FROM kv WHERE id >= ? AND key != ? ORDER BY id LIMIT 1",
        "SELECT key, value FROM kv WHERE id < ? AND key != ? ORDER BY id LIMIT 1",
    ):
        row = index.db.execute(query, (start, str(key))).fetchone()
        if row:
            return row[0], orjson.loads(row[1])
    return None


def as_int(value: Any) -> int | None:
    """`value` as an int (ids come as 42, "42" or "000042"), or None."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


FRAMES_OPTION = OptionSpec("frames", 8, "frames sampled uniformly per video (M3IT: 8)", "int")


def checked_frames(options: dict[str, Any]) -> int:
    frames = options["frames"]
    if not 1 <= frames <= 32:
        raise ImportInputError("frames must be between 1 and 32")
    return frames
