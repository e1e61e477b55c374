"""The streaming importer: adapter rows → Sample rows, in batches, in constant memory.

Two passes over the source, both streaming:
1. **Check.** Every row is parsed and checked (fields, paths inside the import folder, every image
   decoded, every video decodable) without writing anything. File-level problems (truncated JSON,
   a missing file, an unknown option) stop the import; rejected rows are counted and written to a
   CSV report. If more rows are rejected than the import allows (`max_rejected`, 0 by default),
   the import stops here: **bad input changes nothing**.
2. **Write.** Rows are inserted in batches of `batch_size` rows, each batch in its own transaction
   (samples, their images, their order). A batch also ends once its new images pass
   `IMPORT_BATCH_MAX_BYTES`, so memory stays bounded however large the images are. A row whose
   media fail only now (a file changed since the check) is rejected and reported, not dropped.
   A batch first asks which of its source ids already exist in the split (one query) and skips
   them, so re-importing is idempotent and an interrupted import **resumes from its last committed
   batch** when it runs again.

Queries per batch, not per row: one for existing ids, two or three for images (ImageStore), one
bulk insert of samples and one of their image links. Instructions are drawn from the task's pool,
loaded once (pipeline.samples.selection).
"""

from __future__ import annotations

import csv
import io
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from annotator.csv_cells import safe_row
from annotator.models import Instruction, Split, Task, TaskSplit
from pipeline.imports.adapters import get_adapter
from pipeline.imports.adapters.base import (
    Adapter,
    Draft,
    ImageData,
    ImageFile,
    ImportInputError,
    Location,
    Media,
    Rejected,
    SourceFiles,
    Target,
    VideoFile,
    safe_join,
)
from pipeline.imports.bulk import analyze_if_grown, estimated_rows, insert_rows
from pipeline.jobs.runner import start_job
from pipeline.media.images import (
    ImageRejected,
    ImageStore,
    PendingImage,
    PreparedImage,
    box_line_width,
    draw_boxes,
    prepare_image,
)
from pipeline.media.video import VideoRejected, sample_frames, sample_video
from pipeline.models import Image, Job, JobKind, ParaphraseState, Sample, SampleImage
from pipeline.samples import counts
from pipeline.samples.locks import lock_splits
from pipeline.samples.selection import draw_instruction

FIRST_REJECTED = 20
SOURCE_ID_MAX = 255


class RowMediaError(Exception):
    """A row's media failed when they were stored; the message says why (the row is rejected)."""


class ImportRejected(Exception):
    """Too many rows were rejected; nothing was written. `result` holds the counts and first rows."""

    user_error = True  # the message and the report say it all: jobs log it without a traceback

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


class ProgressSink(Protocol):
    def update(
        self,
        done: int | None = None,
        total: int | None = None,
        message: str | None = None,
        force: bool = False,
        **counters: Any,
    ) -> None: ...


class NoProgress:
    def update(self, *args: Any, **kwargs: Any) -> None:
        return None


# ---- the rejection report ------------------------------------------------------------------


class RejectionReport:
    """Counts rejected rows, keeps the first few for the page, streams all of them to a CSV file."""

    SPOOL_BYTES = 1 << 20

    def __init__(self) -> None:
        self.count = 0
        self.first: list[dict[str, Any]] = []
        # Binary, so save() can hand the file itself to the storage (which copies it in chunks).
        self._raw = tempfile.SpooledTemporaryFile(max_size=self.SPOOL_BYTES, mode="w+b")  # noqa: SIM115 - closed in save()
        self._file = io.TextIOWrapper(self._raw, encoding="utf-8", newline="")
        self._csv = csv.writer(self._file)
        self._csv.writerow(["file", "unit", "line", "source_id", "message"])

    def add(self, row: Rejected) -> None:
        self.count += 1
        entry = {
            "file": row.where.file,
            "unit": row.where.unit,
            "line": row.where.line,
            "source_id": row.source_id,
            "message": row.message,
        }
        if len(self.first) < FIRST_REJECTED:
            self.first.append(entry)
        # safe_row: a source id or message starting with = + - @ must not run as a spreadsheet formula
        self._csv.writerow(safe_row(entry[key] for key in ("file", "unit", "line", "source_id", "message")))

    def save(self, name: str) -> str | None:
        """Store the CSV under `name` in media storage; None when nothing was rejected."""
        if not self.count:
            self._file.close()
            return None
        self._file.flush()
        raw = self._file.detach()
        try:
            raw.seek(0)
            if default_storage.exists(name):
                default_storage.delete(name)
            return default_storage.save(name, File(raw, name=Path(name).name))
        finally:
            raw.close()


# ---- media: checked in pass 1, stored in pass 2 ----------------------------------------------


def _read_file(source: SourceFiles, relative: str) -> bytes:
    try:
        path = source.open_path(relative)
        if path.stat().st_size > settings.IMAGE_MAX_BYTES:
            raise ImageRejected(f"image {relative} is larger than {settings.IMAGE_MAX_BYTES} bytes")
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageRejected(f"image file {relative} does not exist") from None
    except IsADirectoryError:
        raise ImageRejected(f"image path {relative} is a folder") from None
    except ImportInputError as exc:
        raise ImageRejected(str(exc)) from None


class MediaChecker:
    """Pass 1: is every image readable and every video decodable? Results cached per file."""

    def __init__(self, source: SourceFiles, max_cached: int = 500_000) -> None:
        self.source = source
        self.seen: dict[Any, str | None] = {}
        self.max_cached = max_cached

    def problem(self, media: list[Media]) -> str | None:
        if not media:
            return "no image"
        for item in media:
            key = _media_key(item)
            if key is not None and key in self.seen:
                problem = self.seen[key]
            else:
                problem = self._check(item)
                if key is not None:
                    if len(self.seen) >= self.max_cached:
                        self.seen.clear()
                    self.seen[key] = problem
            if problem:
                return problem
        return None

    def _check(self, item: Media) -> str | None:
        try:
            if isinstance(item, VideoFile):
                for number, frame in enumerate(sample_frames(_video_path(self.source, item.path), item.frames), 1):
                    try:
                        prepare_image(frame)  # the frames are stored as images: the same limits apply
                    except ImageRejected as exc:
                        raise VideoRejected(f"frame {number}: {exc}") from exc
                return None
            data = item.data if isinstance(item, ImageData) else _read_file(self.source, item.path)
            prepared = prepare_image(data)
            if item.boxes:
                draw_boxes(prepared, item.boxes, item.colours)
        except Exception as exc:
            return media_problem(item, exc)
        return None


class MediaResolver:
    """Pass 2: media → sha256 of the stored images; files read and decoded once per import."""

    def __init__(self, source: SourceFiles, store: ImageStore, max_cached: int = 500_000) -> None:
        self.source = source
        self.store = store
        self.max_cached = max_cached
        self.keys: dict[Any, list[str]] = {}
        self.frame_indexes: dict[Any, list[int]] = {}  # video key → the sampled frames' indexes
        self.pending: dict[str, PendingImage] = {}
        self.pending_bytes = 0

    def begin_batch(self) -> None:
        self.pending = {}
        self.pending_bytes = 0
        if len(self.keys) >= self.max_cached:
            self.forget()

    def forget(self) -> None:
        self.keys.clear()
        self.frame_indexes.clear()
        self.store.ids.clear()

    def video_frames(self, media: list[Media]) -> list[list[int]]:
        """The sampled frame indexes of each video of a row resolved just now (for its meta)."""
        return [self.frame_indexes[_media_key(item)] for item in media if isinstance(item, VideoFile)]

    def resolve(self, media: list[Media]) -> list[str]:
        """sha256 of every image of the row; raises RowMediaError (with the message) when one fails."""
        shas: list[str] = []
        for item in media:
            try:
                shas.extend(self._resolve(item))
            except Exception as exc:
                raise RowMediaError(media_problem(item, exc)) from exc
        return shas

    def _resolve(self, item: Media) -> list[str]:
        key = _media_key(item)
        if key is not None and key in self.keys:
            return self.keys[key]
        if isinstance(item, VideoFile):
            sampled = sample_video(_video_path(self.source, item.path), item.frames)
            shas = [self._add(prepare_image(frame)) for frame in sampled.frames]
            self.frame_indexes[key] = sampled.indexes
        else:
            data = item.data if isinstance(item, ImageData) else _read_file(self.source, item.path)
            prepared = prepare_image(data)
            source_sha = self._add(prepared)
            if item.boxes:
                boxed = draw_boxes(prepared, item.boxes, item.colours)
                derivation = {
                    "boxes": [list(box) for box in item.boxes],
                    "colour": "red" if not item.colours else list(item.colours),
                    "line_width": box_line_width(prepared.width, prepared.height),
                }
                shas = [self._add(boxed, derived_from=source_sha, derivation=derivation)]
            else:
                shas = [source_sha]
        if key is not None:
            self.keys[key] = shas
        return shas

    def _add(self, prepared: PreparedImage, derived_from: str | None = None, derivation: dict | None = None) -> str:
        if prepared.sha256 not in self.store.ids and prepared.sha256 not in self.pending:
            self.pending[prepared.sha256] = PendingImage(prepared, derived_from, derivation or {})
            self.pending_bytes += len(prepared.data)
        return prepared.sha256

    def flush(self) -> dict[str, int]:
        """Store this batch's new images; returns sha256 → Image id for everything resolved so far."""
        if self.pending:
            self.store.store(list(self.pending.values()))
        self.pending = {}
        self.pending_bytes = 0
        return self.store.ids


def media_problem(item: Media, exc: Exception) -> str:
    """The message of a rejected row's media; errors we did not expect say what they were."""
    where = f"{item.path}: " if isinstance(item, ImageFile | VideoFile) else ""
    if isinstance(exc, ImageRejected | VideoRejected):
        return f"{where}{exc}"
    return f"{where}unexpected error ({type(exc).__name__}): {exc}"


def _video_path(source: SourceFiles, relative: str) -> Path:
    try:
        return source.open_path(relative)
    except ImportInputError as exc:
        raise VideoRejected(str(exc)) from None


def _media_key(item: Media) -> tuple | None:
    """What identifies a file's result within an import; None for inline bytes (nothing to cache)."""
    if isinstance(item, ImageData):
        return None
    if isinstance(item, VideoFile):
        return ("video", item.path, item.frames)
    return ("image", item.path, item.boxes, item.colours)


# ---- the import ----------------------------------------------------------------------------


def draft_problem(draft: Draft) -> str | None:
    """Checks every adapter's drafts share: a usable source id, a non-empty output, and nothing the
    database or the export encoder cannot store (so no batch fails half-way through an import)."""
    if not draft.source_id:
        return "missing source id"
    if len(draft.source_id) > SOURCE_ID_MAX:
        return f"source id longer than {SOURCE_ID_MAX} characters"
    if not isinstance(draft.output, str) or not draft.output.strip():
        return "empty output"
    for name, text in (
        ("source id", draft.source_id),
        ("inputs", draft.inputs),
        ("output", draft.output),
        ("instruction", draft.instruction_text),
        ("original output", draft.original_output),
    ):
        if text is not None and (problem := text_problem(text)):
            return f"{name} {problem}"
    return meta_problem(draft.meta, settings.IMPORT_META_MAX_DEPTH)


def text_problem(text: str) -> str | None:
    """Why PostgreSQL cannot store `text` (a NUL character, a lone surrogate), or None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which the database cannot store"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (\\ud800-\\udfff), which is not valid text"
    return None


INT64 = (-(1 << 63), (1 << 63) - 1)


def meta_problem(meta: Any, max_depth: int) -> str | None:
    """Why `meta` cannot be stored and exported: nesting deeper than `max_depth`, a NUL or bad text in a
    key or string, a number the export encoder (orjson) cannot write. Iterative: any depth is safe."""
    stack: list[tuple[Any, str, int]] = [(meta, "meta", 1)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > max_depth:
                return f"{where} nests deeper than {max_depth} levels (IMPORT_META_MAX_DEPTH)"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and (problem := text_problem(key)):
                    return f"a key in {where} {problem}"
                stack.append((item, f"{where}.{key}" if isinstance(value, dict) else f"{where}[{key}]", depth + 1))
        elif isinstance(value, str):
            if problem := text_problem(value):
                return f"{where} {problem}"
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if not INT64[0] <= value <= INT64[1]:
                return f"{where} is an integer beyond 64 bits, which the M3IT export cannot write"
        elif isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                return f"{where} is not a finite number"
        else:
            return f"{where} is not a JSON value ({type(value).__name__})"
    return None


@dataclass
class BatchResult:
    consumed: int  # rows of the batch handled (the rest goes into the next transaction)
    created: int
    skipped: int
    rejected: list[Rejected]


@dataclass
class ImportOutcome:
    records: int = 0
    accepted: int = 0
    created: int = 0
    skipped: int = 0
    rejected: int = 0
    images_stored: int = 0
    first_rejected: list[dict[str, Any]] = field(default_factory=list)
    report: str | None = None
    check_seconds: float = 0.0
    seconds: float = 0.0
    analyzed: list[str] = field(default_factory=list)  # tables ANALYZEd because the import grew them a lot

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Importer:
    """One import of one adapter's rows into one task split."""

    task: Task
    split: str
    adapter: Adapter
    source: SourceFiles
    options: dict[str, Any] = field(default_factory=dict)
    max_rejected: int = 0
    batch_size: int = 0
    batch_max_bytes: int = 0  # a batch also ends when its new images pass this many bytes
    job: Job | None = None
    progress: ProgressSink = field(default_factory=NoProgress)
    report_name: str = ""
    after_batch: Callable[[int], None] | None = None  # tests: called with the batch number after each commit

    def __post_init__(self) -> None:
        if self.split not in Split.values:
            raise ImportInputError(f"unknown split {self.split!r}; use one of {', '.join(Split.values)}")
        self.options = self.adapter.option_values(self.options)
        self.batch_size = self.batch_size or settings.IMPORT_BATCH_SIZE
        self.batch_max_bytes = self.batch_max_bytes or settings.IMPORT_BATCH_MAX_BYTES
        self.target = Target(self.task.slug, self.split)
        # Rows whose media the check pass rejected (at most max_rejected of them): the write pass skips
        # them without counting them twice.
        self._media_rejected: set[Location] = set()

    def run(self) -> ImportOutcome:
        started = time.monotonic()
        self.adapter.check_files(self.source)
        outcome = ImportOutcome()
        report = RejectionReport()
        self._check(outcome, report)
        outcome.check_seconds = round(time.monotonic() - started, 3)
        report_name = self.report_name or f"imports/reports/{self.task.slug}-{self.split}.csv"
        if outcome.rejected > self.max_rejected:
            outcome.report = report.save(report_name)
            outcome.first_rejected = report.first
            first = report.first[0]
            message = (
                f"{outcome.rejected} of {outcome.records} rows rejected (allowed: {self.max_rejected}); "
                f"nothing was imported. First: {first['file']} {first['unit']} {first['line']}: {first['message']}"
            )
            outcome.seconds = round(time.monotonic() - started, 3)
            raise ImportRejected(message, outcome.as_dict())
        before = {model: estimated_rows(model) for model in (Sample, SampleImage, Image)}
        self._write(outcome, report)
        added = {Sample: outcome.created, SampleImage: outcome.created, Image: outcome.images_stored}
        outcome.analyzed = [m._meta.db_table for m in before if analyze_if_grown(m, before[m], added[m])]
        outcome.report = report.save(report_name)
        outcome.first_rejected = report.first
        outcome.seconds = round(time.monotonic() - started, 3)
        self.progress.update(
            message=f"{outcome.created} created, {outcome.skipped} skipped as duplicates, {outcome.rejected} rejected",
            force=True,
        )
        return outcome

    # pass 1
    def _valid_drafts(self, checker: MediaChecker | None, on_rejected: Callable[[Rejected], None]) -> Iterator[Draft]:
        """Drafts that pass the checks; with no checker, media are checked when they are stored."""
        for row in self.adapter.rows(self.source, self.options, self.target):
            if isinstance(row, Rejected):
                on_rejected(row)
                continue
            problem = draft_problem(row)
            if problem is None and checker is not None:
                problem = checker.problem(row.media)
                if problem:
                    self._media_rejected.add(row.where)
            if problem:
                on_rejected(Rejected(row.where, problem, row.source_id))
                continue
            yield row

    def _check(self, outcome: ImportOutcome, report: RejectionReport) -> None:
        checker = MediaChecker(self.source)

        def rejected(row: Rejected) -> None:
            report.add(row)
            outcome.records += 1
            outcome.rejected += 1

        self.progress.update(done=0, total=None, message="Checking the source files…", force=True)
        size = self.source.data_bytes()
        for _draft in self._valid_drafts(checker, rejected):
            outcome.records += 1
            outcome.accepted += 1
            if outcome.records % 200 == 0:
                # The row count is unknown until the end: estimate it from how far into the files we are.
                read = self.source.bytes_read()
                estimate = round(outcome.records * size / read) if read and size else None
                self.progress.update(
                    done=outcome.records,
                    total=max(estimate, outcome.records) if estimate else None,
                    message=f"Checking: {outcome.records} rows read",
                    rejected=outcome.rejected,
                )
        self.progress.update(
            done=0,
            total=outcome.accepted,
            message=f"Checked {outcome.records} rows; importing {outcome.accepted}",
            force=True,
            created=0,
            skipped=0,
            rejected=outcome.rejected,
        )

    # pass 2
    def _write(self, outcome: ImportOutcome, report: RejectionReport) -> None:
        pool = list(Instruction.objects.filter(task=self.task))
        by_text = {instruction.normalized: instruction for instruction in pool}
        store = ImageStore()
        resolver = MediaResolver(self.source, store)
        batch: list[Draft] = []
        number = 0
        # Rows rejected in pass 1 are counted there; here they are skipped (their media fail again in _insert).
        for draft in self._valid_drafts(None, lambda row: None):
            batch.append(draft)
            if len(batch) >= self.batch_size:
                number = self._write_rows(batch, resolver, pool, by_text, outcome, report, number)
                batch = []
        if batch:
            number = self._write_rows(batch, resolver, pool, by_text, outcome, report, number)
        outcome.images_stored = store.stored

    def _write_rows(
        self,
        drafts: list[Draft],
        resolver: MediaResolver,
        pool: list[Instruction],
        by_text: dict[str, Instruction],
        outcome: ImportOutcome,
        report: RejectionReport,
        number: int,
    ) -> int:
        """Commit `drafts` in one batch or, when their images pass batch_max_bytes, in several.
        Returns the number of the last committed batch."""
        start = 0
        while start < len(drafts):
            for attempt in range(3):
                try:
                    done = self._insert(drafts[start:], resolver, pool, by_text)
                    break
                except IntegrityError:
                    resolver.forget()  # ids of images stored in the rolled-back transaction are void
                    if attempt == 2:  # pragma: no cover - only under sustained concurrent imports of one split
                        raise
            start += done.consumed
            number += 1
            outcome.created += done.created
            outcome.skipped += done.skipped
            for row in done.rejected:  # media that failed only now (changed since the check pass)
                report.add(row)
                outcome.rejected += 1
                outcome.accepted -= 1
            self.progress.update(
                done=outcome.created + outcome.skipped,
                total=outcome.accepted,
                message=f"Importing: batch {number}",
                created=outcome.created,
                skipped=outcome.skipped,
                rejected=outcome.rejected,
            )
            if self.after_batch:
                self.after_batch(number)
        return number

    def _insert(
        self, drafts: list[Draft], resolver: MediaResolver, pool: list[Instruction], by_text: dict[str, Instruction]
    ) -> BatchResult:
        """Insert the first rows of `drafts` in one transaction: all of them, or those whose new images
        reach batch_max_bytes. Nothing is counted or reported until the transaction has committed."""
        ids = [d.source_id for d in drafts]
        existing = set(
            Sample.objects.filter(task=self.task, split=self.split, source_id__in=ids).values_list(
                "source_id", flat=True
            )
        )
        resolver.begin_batch()
        new: list[Draft] = []
        media: list[list[str]] = []
        rejected: list[Rejected] = []
        duplicates = consumed = 0
        for draft in drafts:
            consumed += 1
            if draft.source_id in existing:
                duplicates += 1
                continue
            try:
                shas = resolver.resolve(draft.media)
            except RowMediaError as exc:
                if draft.where not in self._media_rejected:  # else already counted in the check pass
                    rejected.append(Rejected(draft.where, str(exc), draft.source_id))
                continue
            if videos := resolver.video_frames(draft.media):
                # Which frames were sampled, 0-based, as the row's meta records them (one list per video).
                draft.meta = {**draft.meta, "frame_indexes": videos[0] if len(videos) == 1 else videos}
            existing.add(draft.source_id)  # a repeated id inside the file counts as a duplicate too
            new.append(draft)
            media.append(shas)
            if resolver.pending_bytes >= self.batch_max_bytes:
                break  # the rest goes into the next batch: memory stays bounded by bytes, not only rows
        if not new:
            return BatchResult(consumed, 0, duplicates, rejected)
        with transaction.atomic():
            lock_splits([(self.task.pk, self.split)])  # the one lock order (pipeline.samples.locks)
            image_ids = resolver.flush()
            samples = [self._sample(draft, pool, by_text) for draft in new]
            insert_rows(samples)
            insert_rows(
                [
                    SampleImage(sample_id=sample.pk, image_id=image_ids[sha], position=position)
                    for sample, shas in zip(samples, media, strict=True)
                    for position, sha in enumerate(shas)
                ]
            )
            counts.inserted(samples)
            TaskSplit.objects.filter(task=self.task, split=self.split).reopen_for_review(
                f"Reopened for review: import job #{self.job.pk if self.job else '-'} added samples since QC saw it."
            )
        return BatchResult(consumed, len(new), duplicates, rejected)

    def _sample(self, draft: Draft, pool: list[Instruction], by_text: dict[str, Instruction]) -> Sample:
        meta = dict(draft.meta)
        sample = Sample(
            task=self.task,
            split=self.split,
            source_id=draft.source_id,
            inputs=draft.inputs,
            outputs=draft.output,
            original_output=draft.original_output or draft.output,
            meta=meta,
            paraphrase_state=ParaphraseState.PENDING if draft.short_answer else ParaphraseState.NOT_NEEDED,
            import_job=self.job,
        )
        draw_instruction(sample, pool=pool, save=False)
        if draft.instruction_text:
            kept = by_text.get(Instruction.normalize(draft.instruction_text))
            if kept is not None:
                sample.instruction = kept
            else:
                meta["source_instruction"] = draft.instruction_text
        return sample


# ---- where the files are ---------------------------------------------------------------------


def import_root() -> Path:
    root = Path(settings.IMPORT_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    return root.resolve()


def resolve_folder(folder: str, *, trusted: bool = False) -> Path:
    """The folder of an import. Relative paths (and, for people, every path) must lie under IMPORT_ROOT.

    `trusted` (the management command, run by the operator on the server) may name any folder."""
    if trusted and Path(folder).is_absolute():
        path = Path(folder).resolve()
    else:
        root = import_root()
        candidate = Path(folder)
        if candidate.is_absolute():
            resolved = candidate.resolve()
            if resolved != root and root not in resolved.parents:
                raise ImportInputError(f"folder {folder!r} is outside the import folder (IMPORT_ROOT)")
            path = resolved
        else:
            path = safe_join(root, folder) if folder not in ("", ".") else root
    if not path.is_dir():
        raise ImportInputError(f"folder {folder!r} does not exist")
    return path


def build_importer(params: dict[str, Any], *, job: Job | None = None, progress: ProgressSink | None = None) -> Importer:
    """An Importer from job parameters; raises ImportInputError with a clear message on bad input."""
    adapter = get_adapter(str(params.get("adapter", "")))
    try:
        task = Task.objects.get(slug=params.get("task"))
    except Task.DoesNotExist:
        raise ImportInputError(f"unknown task {params.get('task')!r}") from None
    root = resolve_folder(str(params.get("folder", "")), trusted=bool(params.get("trusted_folder")))
    source = adapter.source_files(root, params.get("files") or {})
    max_rejected = params.get("max_rejected", 0)
    if not isinstance(max_rejected, int) or max_rejected < 0:
        raise ImportInputError("max_rejected must be a whole number ≥ 0")
    return Importer(
        task=task,
        split=str(params.get("split", "")),
        adapter=adapter,
        source=source,
        options=params.get("options") or {},
        max_rejected=max_rejected,
        batch_size=int(params.get("batch_size") or 0),
        job=job,
        progress=progress or NoProgress(),
        report_name=f"imports/reports/job-{job.pk}-rejected.csv" if job else "",
    )


def validate_params(params: dict[str, Any]) -> Importer:
    """Everything that can be checked before a job starts: adapter, task, split, folder, files, options."""
    importer = build_importer(params)
    importer.adapter.check_files(importer.source)
    return importer


def start_import(params: dict[str, Any], user: Any) -> Job:
    """Check the parameters, then create the import Job and queue it. Raises ImportInputError first."""
    importer = validate_params(params)
    return start_job(
        JobKind.IMPORT, "pipeline.imports.tasks.import_source", user=user, params=params, for_task=importer.task
    )
