"""The adapter interface: an adapter streams a source dataset and yields drafts of samples.

An adapter never touches the database. It reads the files of one import (`SourceFiles`), one
record at a time, and yields either a `Draft` (what a Sample will hold, with references to its
media) or a `Rejected` row (where it is and why). The importer (pipeline.imports.importer) turns
drafts into rows in batches.
"""

from __future__ import annotations

import contextlib
import csv
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import ijson
import orjson

Box = tuple[float, float, float, float]


class ImportInputError(ValueError):
    """The input as a whole cannot be imported (bad file, bad path, unknown adapter); nothing is written."""

    user_error = True  # the message says it all: jobs log it without a traceback


# ---- media references: what a draft points at; the importer loads and stores them -------------


@dataclass(frozen=True)
class ImageFile:
    """An image file below the import root, optionally with boxes to draw on a copy: red, or one named
    colour per box in `colours` (pipeline.media.images.BOX_COLOURS)."""

    path: str
    boxes: tuple[Box, ...] = ()
    colours: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImageData:
    """Image bytes carried in the record itself (e.g. M3IT's base64 strings, Shapes' pixel arrays)."""

    data: bytes
    boxes: tuple[Box, ...] = ()
    colours: tuple[str, ...] = ()


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

    def untrack(self, handle: Any) -> None:
        self._handles = [(h, size) for h, size in self._handles if h is not handle]

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
            found = record_files_in(self.root)
            listing = (
                f"; record files there: {', '.join(found)}" if found else "; the folder has no JSON/JSONL/CSV file"
            )
            raise ImportInputError(
                f"{role} file {self.files[role]!r} does not exist in the import folder{listing} "
                f"(name one with {role}=<file>)"
            )
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
    # A glob for the dataset's official file names (e.g. "*_questions.json"): used when the default name is
    # absent and exactly one file of the folder matches.
    find: str = ""


def record_files_in(root: Path, limit: int = 20) -> list[str]:
    """The JSON/JSONL/CSV files at the top of an import folder, for messages."""
    try:
        names = sorted(
            p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in (".json", ".jsonl", ".csv")
        )
    except OSError:
        return []
    return names[:limit] + ([f"… {len(names) - limit} more"] if len(names) > limit else [])


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
            if spec.find and spec.role not in given and not _exists(source, spec.role):
                matches = sorted(p.name for p in root.glob(spec.find) if p.is_file())
                if len(matches) == 1:
                    source.files[spec.role] = matches[0]
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


def _ijson_stream(
    path: Path, label: str, unit: str, tracker: SourceFiles | None, parse: Callable[[Any, Any], Iterator[Any]]
) -> Iterator[tuple[int, Any]]:
    """Numbered results of `parse(handle, backend)` (an ijson parser) over the file; truncated or malformed
    JSON raises ImportInputError naming the file and the last good item (or entry).

    The C backend (yajl) stops at an integer beyond 64 bits; then the file is read again with ijson's pure
    Python backend, which has no such limit, from the result after the last one yielded."""
    count = 0
    backend: Any = ijson
    while True:
        skip = count
        try:
            with path.open("rb") as handle:
                if tracker is not None:
                    tracker.track(handle, path.stat().st_size)
                for result in parse(handle, backend):
                    if skip:
                        skip -= 1
                        continue
                    count += 1
                    yield count, result
            return
        except ijson.common.IncompleteJSONError as exc:
            if backend is ijson and "integer overflow" in str(exc):
                if tracker is not None:
                    tracker.untrack(handle)
                backend = ijson.get_backend("python")
                continue
            raise ImportInputError(f"{label} is truncated or not valid JSON after {unit} {count}: {exc}") from exc
        except ijson.common.JSONError as exc:
            raise ImportInputError(f"{label} is not valid JSON after {unit} {count}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ImportInputError(f"{label} is not UTF-8 text after {unit} {count}") from exc


def json_items(path: Path, prefix: str, label: str, tracker: SourceFiles | None = None) -> Iterator[tuple[int, Any]]:
    """Items of the JSON array at `prefix` (ijson syntax, e.g. "questions.item"), numbered from 1."""
    return _ijson_stream(path, label, "item", tracker, lambda h, backend: backend.items(h, prefix, use_float=True))


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


def json_entries(
    path: Path, prefix: str, label: str, tracker: SourceFiles | None = None
) -> Iterator[tuple[int, str, Any]]:
    """(number, key, value) of the JSON object at `prefix` ("" for the top level), streamed: the formats that
    key their records by id (GQA questions, OCR-VQA's dataset.json, ScienceQA's problems.json)."""
    entries = _ijson_stream(
        path, label, "entry", tracker, lambda h, backend: backend.kvitems(h, prefix, use_float=True)
    )
    for number, (key, value) in entries:
        yield number, key, value


# ---- helpers the dataset adapters share ----------------------------------------------------

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class RowProblem(ValueError):
    """One record cannot become a sample; the message says why (the adapter rejects the row)."""


def record_id(record: Any, *keys: str) -> str:
    """The first of `keys` the record has, as text ("" when none): ids come as numbers or strings."""
    if isinstance(record, dict):
        for key in keys:
            if record.get(key) not in (None, ""):
                return str(record[key])
    return ""


def lettered(choices: list[str]) -> str:
    """M3IT's option lines: "(A) first\\n(B) second"."""
    if len(choices) > len(LETTERS):
        raise RowProblem(f"{len(choices)} choices; at most {len(LETTERS)} can be lettered")
    return "\n".join(f"({LETTERS[i]}) {choice}" for i, choice in enumerate(choices))


def lettered_answer(choices: list[str], index: Any) -> str:
    """The target "(B) second" for the gold `index`; RowProblem when it is not an index into the choices."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < min(len(choices), len(LETTERS)):
        raise RowProblem(f"answer index {index!r} is not an index into the {len(choices)} choices")
    return f"({LETTERS[index]}) {choices[index]}"


def text_list(value: Any, field_name: str) -> list[str]:
    """A list of non-empty strings (answers, choices, OCR tokens); RowProblem when it is not one."""
    if not isinstance(value, list):
        raise RowProblem(f"{field_name} must be a list, not {type(value).__name__}")
    items = [str(item).strip() for item in value if item is not None and str(item).strip()]
    if not items:
        raise RowProblem(f"{field_name} is empty")
    return items


OCR_META_MAX = 200  # OCR tokens kept in meta per sample; the paraphrase prompt uses the first 50


class FileIndex:
    """Media files below a folder, found by a key: the file stem ("2407890" → 2407890.jpg) or, with
    `by_number`, the trailing number of the stem (COCO: 391895 → COCO_val2014_000000391895.jpg).

    One walk of the folder; `path` returns the path below the import root or raises RowProblem."""

    def __init__(
        self, source: SourceFiles, role: str, suffixes: set[str], *, by_number: bool = False, what: str = "image"
    ) -> None:
        self.source, self.role, self.what, self.by_number = source, role, what, by_number
        folder = source.folder(role)
        self.files: dict[Any, str] = index_by_number(folder, suffixes) if by_number else index_by_stem(folder, suffixes)

    def find(self, *keys: Any) -> str | None:
        for key in keys:
            if self.by_number:
                try:
                    key = int(str(key).rsplit("_", 1)[-1])
                except (TypeError, ValueError):
                    continue
            found = self.files.get(key if self.by_number else str(key))
            if found is not None:
                return self.source.under(self.role, found)
        return None

    def path(self, *keys: Any, label: str = "") -> str:
        found = self.find(*keys)
        if found is None:
            raise RowProblem(f"no {self.what} file for {label or 'id'} {keys[0]}")
        return found


def index_by_stem(folder: Path, suffixes: set[str]) -> dict[str, str]:
    """File stem → path below `folder` (the first one found when two folders hold the same name)."""
    index: dict[str, str] = {}
    for dirpath, _dirnames, filenames in os.walk(folder):
        for filename in filenames:
            stem, suffix = os.path.splitext(filename)
            if suffix.lower() in suffixes:
                index.setdefault(stem, os.path.relpath(os.path.join(dirpath, filename), folder))
    return index


@dataclass
class Context:
    """What `RecordAdapter.build` gets besides the record: the files, the options, the target, the media
    folder's index (when the adapter finds media by id) and whatever else the adapter prepared."""

    source: SourceFiles
    options: dict[str, Any]
    target: Target
    media_role: str
    files: FileIndex | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def media(self, relative: str) -> str:
        """A path given in the record, relative to the media folder."""
        return self.source.under(self.media_role, relative)

    def find(self, *keys: Any, label: str = "id") -> str:
        """The media file for the first key found in the folder's index; RowProblem when none is."""
        if self.files is None:
            raise RowProblem(f"{self.media_role} are not indexed")
        return self.files.path(*keys, label=label)


class RecordAdapter(Adapter):
    """An adapter over one stream of records. Subclasses declare where the records are (`record_role` and
    `record_layout`: a JSON list at `record_prefix`, JSON lines, an object keyed by id whose key is stored
    under `key_field`, or CSV), how media are found (`media_lookup`: paths given in the record, or an index
    of the media folder by file stem or by the number in the name), the fields a record needs, and how it
    becomes drafts (`build`). A record that is not an object, lacks a field, or whose `build` raises
    RowProblem is rejected with its file and item number; the rest of the file goes on."""

    id_fields: ClassVar[tuple[str, ...]] = ("id",)
    required: ClassVar[tuple[str, ...]] = ()
    record_role: ClassVar[str] = "questions"
    record_layout: ClassVar[str] = "list"  # "list", "jsonl", "keyed", "csv"
    record_prefix: ClassVar[str] = "item"
    key_field: ClassVar[str] = "_key"
    media_role: ClassVar[str] = "images"
    media_lookup: ClassVar[str] = "path"  # "path", "stem", "number"
    media_suffixes: ClassVar[set[str]] = IMAGE_SUFFIXES

    def records(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[tuple[Location, Any]]:
        if self.record_layout == "jsonl":
            return jsonl_records(source, self.record_role)
        if self.record_layout == "keyed":
            return json_keyed_records(source, self.record_role, self.key_field)
        if self.record_layout == "csv":
            return csv_records(source, self.record_role)
        return json_list_records(source, self.record_role, self.record_prefix)

    def prepare(self, context: Context) -> None:
        """Check options and fill `context.extra` once per import (a hook; nothing by default)."""

    def make_context(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Context:
        context = Context(source, options, target, self.media_role)
        if self.media_lookup == "path":
            source.folder(self.media_role)
        else:
            what = "video" if self.media_suffixes is VIDEO_SUFFIXES else "image"
            by_number = self.media_lookup == "number"
            context.files = FileIndex(source, self.media_role, self.media_suffixes, by_number=by_number, what=what)
        self.prepare(context)
        return context

    def context(
        self, source: SourceFiles, options: dict[str, Any], target: Target
    ) -> contextlib.AbstractContextManager:
        """A context manager giving the Context; adapters that index a side file for the import override it."""
        return contextlib.nullcontext(self.make_context(source, options, target))

    def build(self, where: Location, record: dict, source_id: str, context: Context) -> Iterator[Row]:
        raise NotImplementedError

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        with self.context(source, options, target) as context:
            for where, record in self.records(source, options, target):
                if isinstance(record, Rejected):
                    yield record
                    continue
                source_id = record_id(record, *self.id_fields)
                if problem := require(record, self.required):
                    yield Rejected(where, problem, source_id)
                    continue
                try:
                    yield from self.build(where, record, source_id, context)
                except (RowProblem, ImportInputError) as exc:
                    yield Rejected(where, str(exc), source_id)


def csv_records(source: SourceFiles, role: str) -> Iterator[tuple[Location, Any]]:
    label = source.name(role)
    for number, row in csv_rows(source.file(role), label, source):
        yield Location(label, number), row


def json_list_records(source: SourceFiles, role: str, prefix: str) -> Iterator[tuple[Location, Any]]:
    """The items of the JSON array at `prefix` in the file of `role`, with their locations."""
    label = source.name(role)
    for number, item in json_items(source.file(role), prefix, label, source):
        yield Location(label, number, "item"), item


def jsonl_records(source: SourceFiles, role: str) -> Iterator[tuple[Location, Any]]:
    """The objects of a JSONL file; a line that is not JSON comes through as a Rejected row."""
    label = source.name(role)
    for number, record, error in jsonl_lines(source.file(role), label, source):
        where = Location(label, number)
        yield where, (Rejected(where, error) if error else record)


def json_keyed_records(
    source: SourceFiles, role: str, key_field: str, prefix: str = ""
) -> Iterator[tuple[Location, Any]]:
    """The entries of a JSON object keyed by id, each as its value with the key added under `key_field`."""
    label = source.name(role)
    for number, key, value in json_entries(source.file(role), prefix, label, source):
        yield Location(label, number, "entry"), ({**value, key_field: key} if isinstance(value, dict) else value)


def paraphrase_option(default: bool) -> OptionSpec:
    """Whether the outputs are short answers to paraphrase later; the default is what M3IT did for the task."""
    return OptionSpec("paraphrase", default, "true: the answers are short and get paraphrased (Stage II)", "bool")


class KeyedIndex:
    """Values by key in a temporary SQLite file, so a side file (captions, OCR tokens) joins by id while
    memory stays flat on big files."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def get(self, key: Any, limit: int = 1_000) -> list[Any]:
        rows = self.db.execute("SELECT value FROM kv WHERE key = ? ORDER BY id LIMIT ?", (str(key), limit))
        return [orjson.loads(row[0]) for row in rows]


@contextlib.contextmanager
def keyed_index(pairs: Iterable[tuple[Any, Any]]) -> Iterator[KeyedIndex]:
    """Index (key, value) pairs, streamed in, for lookups by key; the file goes when the block ends."""
    with tempfile.TemporaryDirectory(prefix="keyed-") as folder:
        db = sqlite3.connect(Path(folder) / "index.sqlite3")
        try:
            db.execute("CREATE TABLE kv (id INTEGER PRIMARY KEY, key TEXT, value BLOB)")
            batch: list[tuple[str, bytes]] = []
            for key, value in pairs:
                batch.append((str(key), orjson.dumps(value)))
                if len(batch) >= 10_000:
                    db.executemany("INSERT INTO kv (key, value) VALUES (?, ?)", batch)
                    batch = []
            db.executemany("INSERT INTO kv (key, value) VALUES (?, ?)", batch)
            db.execute("CREATE INDEX kv_key ON kv (key)")
            yield KeyedIndex(db)
        finally:
            db.close()
