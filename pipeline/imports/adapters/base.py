"""The adapter interface: an adapter streams a source dataset and yields drafts of samples.

An adapter never touches the database. It reads the files of one import (`SourceFiles`), one
record at a time, and yields either a `Draft` (what a Sample will hold, with references to its
media) or a `Rejected` row (where it is and why). The importer (pipeline.imports.importer) turns
drafts into rows in batches.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import random
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import ijson
import orjson

Box = tuple[float, float, float, float]


class ImportInputError(ValueError):
    """The input as a whole cannot be imported (bad file, bad path, unknown adapter); nothing is written."""


# ---- media references: what a draft points at; the importer loads and stores them -------------


@dataclass(frozen=True)
class ImageFile:
    """An image file below the import root, optionally with boxes to draw on a copy."""

    path: str
    boxes: tuple[Box, ...] = ()


@dataclass(frozen=True)
class ImageData:
    """Image bytes carried in the record itself (e.g. M3IT's base64 strings)."""

    data: bytes
    boxes: tuple[Box, ...] = ()


@dataclass(frozen=True)
class VideoFile:
    """A video below the import root; `frames` frames are sampled uniformly from it."""

    path: str
    frames: int = 8


Media = ImageFile | ImageData | VideoFile


@dataclass(frozen=True)
class Location:
    """Where a row is: a file and a 1-based line (JSONL, CSV) or item number (JSON lists)."""

    file: str
    line: int
    unit: str = "line"

    def __str__(self) -> str:
        return f"{self.file} {self.unit} {self.line}"


@dataclass
class Draft:
    """One sample to be: media, inputs, the source's answer, meta. `short_answer` → paraphrase pending."""

    source_id: str
    media: list[Media]
    inputs: str
    output: str
    meta: dict[str, Any]
    where: Location
    short_answer: bool = False
    instruction_text: str | None = None  # an instruction that came with the record (M3IT re-import)
    original_output: str | None = None  # when `output` is already a paraphrase of it (M3IT re-import)


@dataclass(frozen=True)
class Rejected:
    where: Location
    message: str
    source_id: str = ""


Row = Draft | Rejected


# ---- the files of one import ----------------------------------------------------------------


def safe_join(root: Path, relative: str) -> Path:
    """`root/relative`, refusing absolute paths and anything (`..`, symlinks) that leaves root."""
    if not relative or "\x00" in relative:
        raise ImportInputError(f"empty or invalid path {relative!r}")
    candidate = Path(relative)
    if candidate.is_absolute():
        raise ImportInputError(f"path {relative!r} must be relative to the import folder")
    resolved_root = root.resolve()
    resolved = (resolved_root / candidate).resolve()
    if resolved != resolved_root and resolved_root not in resolved.parents:
        raise ImportInputError(f"path {relative!r} is outside the import folder")
    return resolved


@dataclass
class SourceFiles:
    """The import folder and which file plays which role (e.g. questions → v2_Questions.json)."""

    root: Path
    files: dict[str, str] = field(default_factory=dict)
    _handles: list[tuple[Any, int]] = field(default_factory=list, repr=False)

    def track(self, handle: Any, size: int) -> None:
        """Remember an open file so `bytes_read` can say how far the adapter got (progress)."""
        self._handles.append((handle, size))

    def bytes_read(self) -> int:
        return sum(size if handle.closed else handle.tell() for handle, size in self._handles)

    def data_bytes(self) -> int:
        """Total size of the record files (not the media folders)."""
        total = 0
        for role in self.files:
            try:
                path = self.path(role)
            except ImportInputError:
                continue
            if path.is_file():
                total += path.stat().st_size
        return total

    def path(self, role: str) -> Path:
        if role not in self.files:
            raise ImportInputError(f"no file given for {role!r}")
        return safe_join(self.root, self.files[role])

    def has(self, role: str) -> bool:
        return bool(self.files.get(role))

    def name(self, role: str) -> str:
        return self.files[role]

    def file(self, role: str) -> Path:
        path = self.path(role)
        if not path.is_file():
            raise ImportInputError(f"{role} file {self.files[role]!r} does not exist in the import folder")
        return path

    def folder(self, role: str) -> Path:
        path = self.path(role)
        if not path.is_dir():
            raise ImportInputError(f"{role} folder {self.files[role]!r} does not exist in the import folder")
        return path

    def under(self, role: str, relative: str) -> str:
        """A path given in a record, relative to the folder of `role`, as a path relative to the root.

        A string check, no file system calls (it runs once per row); raises ImportInputError when the
        path leaves the import folder (`../`, absolute). Symlinks are checked when the file is read."""
        base = os.path.normpath(self.files[role]) if self.has(role) else "."
        if not relative or "\x00" in relative or os.path.isabs(relative):
            raise ImportInputError(f"path {relative!r} must be relative to the import folder")
        joined = os.path.normpath(os.path.join(base, relative))
        if joined == ".." or joined.startswith(("../", "/")):
            raise ImportInputError(f"path {relative!r} is outside the import folder")
        return joined

    def open_path(self, relative: str) -> Path:
        """The real path of a media file, after resolving symlinks; ImportInputError if it leaves the root."""
        return safe_join(self.root, relative)


# ---- what an adapter declares ----------------------------------------------------------------


@dataclass(frozen=True)
class FileSpec:
    role: str
    kind: str  # "json", "jsonl", "csv", "jsonl/csv", "folder"
    default: str
    help: str
    required: bool = True


OPTION_KINDS = ("str", "int", "bool", "json")
TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off", ""}


@dataclass(frozen=True)
class OptionSpec:
    """An adapter option. `kind` says how a given value is read: "str", "int", "bool" ("false", "0",
    "no" are False) or "json" (any JSON value, as given)."""

    name: str
    default: Any
    help: str
    kind: str = "str"

    def __post_init__(self) -> None:
        if self.kind not in OPTION_KINDS:
            raise ValueError(f"option {self.name}: kind must be one of {', '.join(OPTION_KINDS)}")

    def parse(self, value: Any) -> Any:
        """The value as this option's kind; ImportInputError with a clear message when it is not one."""
        if value is None:
            return self.default
        if self.kind == "json":
            return value
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
                return value.strip().lower() in TRUE_WORDS
            raise ImportInputError(f"option {self.name} must be true or false (or yes/no, 1/0), not {value!r}")
        if self.kind == "int":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str):
                try:
                    return int(value.strip())
                except ValueError:
                    pass
            raise ImportInputError(f"option {self.name} must be a whole number, not {value!r}")
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # the command line reads "--option id_field=42" as the number 42
        raise ImportInputError(f"option {self.name} must be text, not {value!r}")


@dataclass(frozen=True)
class Target:
    """Where the rows go: the task's slug and the split (some adapters read only that split's records)."""

    task: str
    split: str


class Adapter:
    """Base class: subclasses set the class attributes and implement `rows`."""

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    files: ClassVar[tuple[FileSpec, ...]]
    options: ClassVar[tuple[OptionSpec, ...]] = ()

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        """Stream the source's records as drafts or rejected rows, in file order."""
        raise NotImplementedError

    def option_values(self, given: dict[str, Any] | None) -> dict[str, Any]:
        """Defaults overlaid with what was given, each read as its option's kind; unknown option names and
        values of the wrong kind are input errors."""
        given = dict(given or {})
        known = {spec.name for spec in self.options}
        if unknown := sorted(set(given) - known):
            allowed = ", ".join(sorted(known)) or "none"
            raise ImportInputError(f"unknown option(s) for {self.name}: {', '.join(unknown)} (allowed: {allowed})")
        return {spec.name: spec.parse(given.get(spec.name)) for spec in self.options}

    def source_files(self, root: Path, given: dict[str, str] | None) -> SourceFiles:
        """The roles with the given names or the defaults; an unknown role is an input error."""
        given = {k: v for k, v in (given or {}).items() if v}
        roles = {spec.role for spec in self.files}
        if unknown := sorted(set(given) - roles):
            raise ImportInputError(f"unknown file role(s) for {self.name}: {', '.join(unknown)}")
        files = {spec.role: given.get(spec.role, spec.default) for spec in self.files}
        source = SourceFiles(root=root, files={k: v for k, v in files.items() if v})
        for spec in self.files:
            if not spec.required and spec.role not in given and not _exists(source, spec.role):
                source.files.pop(spec.role, None)
        return source

    def check_files(self, source: SourceFiles) -> None:
        """Fail early, before any row is read, when a required file or folder is missing."""
        for spec in self.files:
            if not spec.required and not source.has(spec.role):
                continue
            if spec.kind == "folder":
                source.folder(spec.role)
            else:
                source.file(spec.role)


def _exists(source: SourceFiles, role: str) -> bool:
    try:
        return source.path(role).exists()
    except ImportInputError:
        return False


# ---- streaming readers shared by the adapters ---------------------------------------------


def json_items(path: Path, prefix: str, label: str, tracker: SourceFiles | None = None) -> Iterator[tuple[int, Any]]:
    """Items of the JSON array at `prefix` (ijson syntax, e.g. "questions.item"), numbered from 1.

    Truncated or malformed JSON raises ImportInputError naming the file and the last good item."""
    count = 0
    try:
        with path.open("rb") as handle:
            if tracker is not None:
                tracker.track(handle, path.stat().st_size)
            for item in ijson.items(handle, prefix, use_float=True):
                count += 1
                yield count, item
    except ijson.common.IncompleteJSONError as exc:
        raise ImportInputError(f"{label} is truncated or not valid JSON after item {count}: {exc}") from exc
    except ijson.common.JSONError as exc:
        raise ImportInputError(f"{label} is not valid JSON after item {count}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ImportInputError(f"{label} is not UTF-8 text after item {count}") from exc


def jsonl_lines(path: Path, label: str, tracker: SourceFiles | None = None) -> Iterator[tuple[int, Any, str | None]]:
    """(line number, parsed object or None, error message or None) per non-blank line."""
    with path.open("rb") as handle:
        if tracker is not None:
            tracker.track(handle, path.stat().st_size)
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                yield number, orjson.loads(raw), None
            except orjson.JSONDecodeError as exc:
                yield number, None, f"not valid JSON ({exc.msg} at column {exc.colno})"


def csv_rows(path: Path, label: str, tracker: SourceFiles | None = None) -> Iterator[tuple[int, dict[str, str]]]:
    """CSV rows as dicts keyed by the header, with the line each row starts on."""
    with path.open("r", encoding="utf-8", newline="") as handle:
        if tracker is not None:
            tracker.track(handle.buffer, path.stat().st_size)  # the text layer cannot tell() while iterating
        reader = csv.DictReader(handle)
        line = 1
        try:
            for row in reader:
                yield line + 1, row
                line = reader.line_num
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ImportInputError(f"{label} is not readable CSV at line {line + 1}: {exc}") from exc


def require(record: Any, fields: Iterable[str]) -> str | None:
    """A message naming the missing fields, or None."""
    if not isinstance(record, dict):
        return "record is not a JSON object"
    missing = [name for name in fields if record.get(name) in (None, "")]
    if missing:
        return f"missing field(s): {', '.join(missing)}"
    return None


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".gif"}


def index_by_number(folder: Path, suffixes: set[str]) -> dict[int, str]:
    """Map the trailing number of each file name to its path below `folder` (COCO: 000000391895 → file).

    One `scandir` walk; the dict holds one short string per file."""
    import re

    pattern = re.compile(r"(\d+)$")
    index: dict[int, str] = {}
    for dirpath, _dirnames, filenames in os.walk(folder):
        for filename in filenames:
            stem, suffix = os.path.splitext(filename)
            if suffix.lower() not in suffixes:
                continue
            match = pattern.search(stem)
            if match:
                index.setdefault(int(match.group(1)), os.path.relpath(os.path.join(dirpath, filename), folder))
    return index


def index_by_stem(folder: Path, suffixes: set[str]) -> dict[str, str]:
    """Map each file's stem to its path below `folder` (Flickr ids, VIST photo ids, Winoground names).

    One walk; the first file of a stem wins (a release that ships both .jpg and .png keeps one)."""
    index: dict[str, str] = {}
    for dirpath, _dirnames, filenames in os.walk(folder):
        for filename in sorted(filenames):
            stem, suffix = os.path.splitext(filename)
            if suffix.lower() in suffixes:
                index.setdefault(stem, os.path.relpath(os.path.join(dirpath, filename), folder))
    return index


def json_kvitems(
    path: Path, prefix: str, label: str, tracker: SourceFiles | None = None
) -> Iterator[tuple[int, str, Any]]:
    """(number, key, value) of the JSON object at `prefix` (COCO-Text's "anns"/"imgs" dicts), streamed."""
    count = 0
    try:
        with path.open("rb") as handle:
            if tracker is not None:
                tracker.track(handle, path.stat().st_size)
            for key, value in ijson.kvitems(handle, prefix, use_float=True):
                count += 1
                yield count, key, value
    except ijson.common.JSONError as exc:
        raise ImportInputError(f"{label} is truncated or not valid JSON after entry {count}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ImportInputError(f"{label} is not UTF-8 text after entry {count}") from exc


def text_lines(path: Path, label: str, tracker: SourceFiles | None = None) -> Iterator[tuple[int, str]]:
    """(line number, text without the newline) of a UTF-8 text file; `.gz` files are read compressed."""
    import gzip

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
                raise ImportInputError(f"{label} line {number} is not UTF-8 text") from exc
            except (OSError, EOFError) as exc:
                raise ImportInputError(f"{label} cannot be read after line {number}: {exc}") from exc


# ---- options in M3IT's shape -------------------------------------------------------------------

OPTION_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def lettered(choices: list[str]) -> str:
    """ "(A) first\n(B) second …", the option list of M3IT's classification and multiple-choice tasks."""
    if len(choices) > len(OPTION_LETTERS):
        raise ValueError(f"at most {len(OPTION_LETTERS)} options, got {len(choices)}")
    return "\n".join(f"({OPTION_LETTERS[i]}) {choice}" for i, choice in enumerate(choices))


def with_options(question: str, choices: list[str]) -> str:
    return f"{question}\nOptions:\n{lettered(choices)}"


def letter_answer(index: int, choices: list[str]) -> str:
    return f"({OPTION_LETTERS[index]}) {choices[index]}"


def sample_rng(purpose: str, task: str, split: str, source_id: str) -> random.Random:
    """A random generator seeded per sample, so options and negatives are the same on every re-import."""
    digest = hashlib.sha256(f"{purpose}|{task}|{split}|{source_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def seeded_options(gold: str, labels: list[str], count: int, rng: random.Random) -> tuple[list[str], int]:
    """`count` options: the gold label and distinct random distractors, the gold at a random position."""
    others = sorted({label for label in labels if label != gold})
    distractors = rng.sample(others, min(count - 1, len(others)))
    gold_at = rng.randrange(len(distractors) + 1)
    return [*distractors[:gold_at], gold, *distractors[gold_at:]], gold_at


# ---- joins by id without holding a file in memory ---------------------------------------------


class KeyIndex:
    """Values by key in a temporary SQLite file: the side of a join that does not fit the stream's order
    (OCR tokens by image, sentences by video, questions by number). Memory stays flat on big files."""

    BATCH = 10_000

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._batch: list[tuple[str, bytes]] = []
        self.count = 0

    def add(self, key: Any, value: Any) -> None:
        self._batch.append((str(key), orjson.dumps(value)))
        self.count += 1
        if len(self._batch) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        self.db.executemany("INSERT INTO kv (key, value) VALUES (?, ?)", self._batch)
        self._batch = []

    def get(self, key: Any) -> list[Any]:
        """Every value added under `key`, in the order added."""
        rows = self.db.execute("SELECT value FROM kv WHERE key = ? ORDER BY id", (str(key),))
        return [orjson.loads(row[0]) for row in rows]

    def first(self, key: Any, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM kv WHERE key = ? ORDER BY id LIMIT 1", (str(key),)).fetchone()
        return orjson.loads(row[0]) if row else default

    def other_than(self, key: Any, rng: random.Random) -> tuple[str, Any] | None:
        """A random (key, value) whose key differs from `key` (negatives from other images); None if none."""
        if not self.count:
            return None
        start = rng.randint(1, self.count)
        for query in (
            "SELECT key, value FROM kv WHERE id >= ? AND key != ? ORDER BY id LIMIT 1",
            "SELECT key, value FROM kv WHERE id < ? AND key != ? ORDER BY id LIMIT 1",
        ):
            row = self.db.execute(query, (start, str(key))).fetchone()
            if row:
                return row[0], orjson.loads(row[1])
        return None


@contextmanager
def key_index(pairs: Iterable[tuple[Any, Any]]) -> Iterator[KeyIndex]:
    """A KeyIndex filled from (key, value) pairs, deleted when the block ends."""
    with tempfile.TemporaryDirectory(prefix="import-index-") as folder:
        db = sqlite3.connect(Path(folder) / "index.sqlite3")
        try:
            db.execute("CREATE TABLE kv (id INTEGER PRIMARY KEY, key TEXT, value BLOB)")
            index = KeyIndex(db)
            for key, value in pairs:
                index.add(key, value)
            index.flush()
            db.execute("CREATE INDEX kv_key ON kv (key)")
            yield index
        finally:
            db.close()


def split_name(target: Target, names: dict[str, str], given: str = "") -> str:
    """The source's own name of the target split (MSR-VTT "validate", KonIQ "validation"), or `given`."""
    return given or names.get(target.split, target.split)


def draft_or_reject(where: Location, source_id: str, build: Any) -> Row:
    """`build()` as a Draft, or a Rejected row naming the record when it raises ValueError/KeyError/TypeError
    (a malformed field deep in a record) or ImportInputError (a path that leaves the import folder)."""
    try:
        return build()
    except (ValueError, KeyError, TypeError, ImportInputError) as exc:
        message = str(exc) if isinstance(exc, ValueError | ImportInputError) else f"bad field: {exc!r}"
        return Rejected(where, message, source_id)
