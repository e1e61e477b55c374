"""Exports of approved splits in M3IT's published layout.

Under EXPORT_ROOT/<name>/:

    data/<folder>/<task_dir>/instructions.json        the task's pool, a JSON list of strings
    data/<folder>/<task_dir>/{train,val,test}.jsonl   one M3IT record per line (pipeline.export.record)
    README.md                                         dataset card (no times in it: it is data)
    manifest.json                                     who, when, what, approvals, checksums, digest

How it keeps its promises:
- Only approved splits: the plan holds splits whose TaskSplit.qc_status is approved, frozen on the
  Export row with each split's highest sample id; approval is checked again when the job starts and
  before the export is published. Whatever was asked for and left out is listed with the reason.
- Atomic: files are written under EXPORT_ROOT/.partial-<name>/ and that folder is renamed to <name>
  only when every file is complete, fsynced and checksummed. Nothing else ever appears under <name>.
- Resumable: after each chunk a small state file records the byte offset, the last sample id and the
  record count; a rerun truncates to that offset, hashes the prefix again and carries on.
- Deterministic: tasks in path order, samples by id, fixed key order (m3it_format); times live only in
  manifest.json, and the digest covers every other file.
- Streaming: samples in keyset-ordered chunks (two queries per chunk); the images of the next chunk
  are read through storage by a small thread pool while the current chunk is encoded, so memory
  holds at most two chunks whatever the size.

Translated splits (M3IT-80, pipeline.translation.m3it80) are more planned files with their own path
and query: data/<task>/<task>_<split>_<lang>.jsonl, the English sources data/<task>/<split>_500.jsonl and
the pools data/instructions/<lang>.jsonl, written by the same streaming, checkpointed writer.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import shutil
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q, Sum
from django.template.loader import render_to_string
from django.utils import timezone, translation

from annotator.models import Group, Instruction, QCStatus, Split, Task, TaskSplit
from annotator.stats import Item, instruction_report
from pipeline.export.record import build_record, encode_image, encode_line
from pipeline.jobs.runner import Progress, start_job
from pipeline.media.images import read_image_bytes
from pipeline.models import Export, Image, JobKind, Sample, SampleImage, SampleQCState
from pipeline.translation import m3it80

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
SPLIT_FILES = {Split.TRAIN: "train.jsonl", Split.VAL: "val.jsonl", Split.TEST: "test.jsonl"}
PARTIAL_PREFIX = ".partial-"
STATE_DIR = ".state"
MANIFEST = "manifest.json"
CARD = "README.md"
CHUNK_SIZE = 100
READ_THREADS = 4
BASE64_GROWTH = 4 / 3
FORMAT_VERSION = 1


class ExportError(Exception):
    """An export cannot be started, run or deleted; the message says why."""


# --- paths ------------------------------------------------------------------------------------


def export_root() -> Path:
    root = Path(settings.EXPORT_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    return root.resolve()


def _inside(root: Path, name: str, prefix: str = "") -> Path:
    """root/(prefix + name), refusing names that could step outside root."""
    if not SAFE_NAME.match(name):
        raise ExportError(f"unsafe export name {name!r}")
    path = root / (prefix + name)
    if path.resolve().parent != root:
        raise ExportError(f"export name {name!r} leaves the export root")
    return path


def export_dir(export: Export) -> Path:
    """Where a finished export lives (whether or not it is there yet)."""
    return _inside(export_root(), export.name)


def partial_dir(export: Export) -> Path:
    return _inside(export_root(), export.name, PARTIAL_PREFIX)


def export_file(export: Export, relative: str) -> Path:
    """The file `relative` of a finished export; ExportError for anything not listed in its manifest.

    The manifest is the allow-list, so `..`, absolute paths, links and stray files are all refused.
    """
    allowed = {entry["path"] for entry in read_manifest(export)["files"]} | {MANIFEST}
    if relative not in allowed:
        raise ExportError(f"{relative!r} is not a file of export {export.name}")
    base = export_dir(export)
    path = base / relative
    if path.is_symlink() or not path.is_file() or not path.resolve().is_relative_to(base.resolve()):
        raise ExportError(f"{relative!r} is not a file of export {export.name}")
    return path


def read_manifest(export: Export) -> dict[str, Any]:
    path = export_dir(export) / MANIFEST
    if not path.is_file():
        raise ExportError(f"export {export.name} is not complete")
    return orjson.loads(path.read_bytes())


def manifest_files(export: Export) -> tuple[list[dict[str, Any]], str]:
    """The files a finished export lists, and the problem to show when its folder is gone from disk."""
    if not export.completed_at:
        return [], ""
    try:
        return read_manifest(export)["files"], ""
    except ExportError:
        return [], f"The files of this export are no longer on disk ({export_dir(export)}): delete it or export again."


def split_path(task: Task, split: str) -> str:
    return f"data/{task.folder}/{task.task_dir}/{SPLIT_FILES[split]}"


def instructions_path(task: Task) -> str:
    return f"data/{task.folder}/{task.task_dir}/instructions.json"


# --- the plan ---------------------------------------------------------------------------------


@dataclass
class Plan:
    """What an export will write (`included`) and what was asked for but left out (`excluded`)."""

    requested: dict[str, Any]
    included: list[dict[str, Any]] = field(default_factory=list)
    excluded: list[dict[str, Any]] = field(default_factory=list)
    translated: list[dict[str, Any]] = field(default_factory=list)  # M3IT-80 files

    @property
    def records(self) -> int:
        return sum(item["records"] for item in self.included)

    @property
    def translated_records(self) -> int:
        return sum(item["records"] for item in self.translated if item["kind"] != "pool")

    @property
    def estimated_bytes(self) -> int:
        return sum(item["estimated_bytes"] for item in self.included)


def exportable_rows() -> Any:
    """Samples that go into an export: everything in the split except samples QC rejected."""
    return Sample.objects.exclude(qc_state=SampleQCState.REJECTED)


def tasks_with_approved_split() -> Any:
    return Task.objects.filter(splits__qc_status=QCStatus.APPROVED).distinct()


@translation.override("en")  # reasons are stored and written into the card: always English
def plan_export(task_slugs: list[str] | None = None, splits: list[str] | None = None) -> Plan:
    """Resolve a request into approved splits to write, and the asked-for rest with reasons.

    `task_slugs=None` means every task with an approved split; `splits=None` means all three.
    """
    wanted_splits = [s for s in Split.values if splits is None or s in splits]
    if splits is not None and (unknown := sorted(set(splits) - set(Split.values))):
        raise ExportError(f"unknown split(s): {', '.join(unknown)} (use {', '.join(Split.values)})")
    if task_slugs is None:
        tasks = list(tasks_with_approved_split())
    else:
        tasks = list(Task.objects.filter(slug__in=task_slugs))
        if unknown := sorted(set(task_slugs) - {t.slug for t in tasks}):
            raise ExportError(f"unknown task(s): {', '.join(unknown)}")
    tasks.sort(key=lambda t: (t.folder, t.task_dir, t.slug))
    plan = Plan(requested={"tasks": task_slugs, "splits": splits})

    task_ids = [t.pk for t in tasks]
    split_rows = {
        (ts.task_id, ts.split): ts for ts in TaskSplit.objects.filter(task_id__in=task_ids, split__in=wanted_splits)
    }
    counts = {
        (row["task_id"], row["split"]): row
        for row in exportable_rows()
        .filter(task_id__in=task_ids, split__in=wanted_splits)
        .values("task_id", "split")
        .annotate(n=Count("id"), max_id=Max("id"), without_instruction=Count("id", filter=Q(instruction__isnull=True)))
    }
    image_bytes = {
        (row["sample__task_id"], row["sample__split"]): row["b"] or 0
        for row in SampleImage.objects.filter(sample__task_id__in=task_ids, sample__split__in=wanted_splits)
        .exclude(sample__qc_state=SampleQCState.REJECTED)
        .values("sample__task_id", "sample__split")
        .annotate(b=Sum("image__size_bytes"))
    }
    used_dirs: dict[str, str] = {}
    for task in tasks:
        directory = f"{task.folder}/{task.task_dir}"
        for split in wanted_splits:
            row = split_rows.get((task.pk, split))
            reason = None
            if row is None:
                reason = "the task has no such split"
            elif not row.is_approved:
                reason = f"not approved by QC (status: {row.get_qc_status_display()})"
            if reason is None and (not SAFE_NAME.match(task.folder) or not SAFE_NAME.match(task.task_dir)):
                reason = f"unsafe directory name {directory!r}"
            stats = counts.get((task.pk, split))
            if reason is None and not stats:
                reason = "approved, but it has no samples"
            if reason is None and stats["without_instruction"]:
                reason = f"{stats['without_instruction']} sample(s) have no instruction (draw them, then review again)"
            # A directory belongs to the first task that actually writes into it.
            if reason is None and used_dirs.setdefault(directory, task.slug) != task.slug:
                reason = f"directory {directory!r} is already used by task {used_dirs[directory]}"
            if reason:
                plan.excluded.append({"task": task.slug, "split": split, "reason": reason})
                continue
            plan.included.append(
                {
                    "task": task.slug,
                    "split": split,
                    "path": split_path(task, split),
                    "records": stats["n"],
                    "max_id": stats["max_id"],
                    "estimated_bytes": int(image_bytes.get((task.pk, split), 0) * BASE64_GROWTH),
                }
            )
    plan.translated, left_out = m3it80.plan_translated(plan.included)
    plan.excluded += left_out
    return plan


def start_export(
    user: Any, task_slugs: list[str] | None = None, splits: list[str] | None = None, **options: Any
) -> Export:
    """Plan an export and queue its job. ExportError (with the reasons) when nothing can be exported."""
    plan = plan_export(task_slugs, splits)
    if not plan.included:
        reasons = "; ".join(f"{e['task']}/{e['split']}: {e['reason']}" for e in plan.excluded) or "no task chosen"
        raise ExportError(f"Nothing to export: no approved split with samples among those asked for ({reasons}).")
    params = {"tasks": task_slugs, "splits": splits, **options}
    with transaction.atomic():
        job = start_job(
            JobKind.EXPORT,
            "pipeline.export.tasks.export_dataset",
            user=user,
            params=params,
            total=plan.records + plan.translated_records,
            message="Export queued.",
        )
        return Export.objects.create(
            job=job,
            name=_fresh_name(f"m3it-{timezone.now():%Y%m%d-%H%M%S}-{job.pk}"),
            requested=plan.requested,
            included=plan.included,
            excluded=plan.excluded,
            translated=plan.translated,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )


def _fresh_name(base: str) -> str:
    """A name no export row and no folder on disk uses yet (a database reset can leave folders behind)."""
    root, name, n = export_root(), base, 1
    while Export.objects.filter(name=name).exists() or any(
        (root / (prefix + name)).exists() for prefix in ("", PARTIAL_PREFIX)
    ):
        n += 1
        name = f"{base}-{n}"
    return name


def check_still_approved(included: list[dict[str, Any]]) -> None:
    """Refuse to go on if a planned split lost its approval meanwhile."""
    approved = set(
        TaskSplit.objects.filter(qc_status=QCStatus.APPROVED, task__slug__in={i["task"] for i in included}).values_list(
            "task__slug", "split"
        )
    )
    if lost := [f"{i['task']}/{i['split']}" for i in included if (i["task"], i["split"]) not in approved]:
        raise ExportError(f"no longer approved: {', '.join(lost)}; the export was not published")


# --- writing ----------------------------------------------------------------------------------


@dataclass
class Counters:
    """Running totals of one export run, reported as job progress."""

    progress: Progress
    records: int = 0
    files: int = 0
    bytes: int = 0
    resumed: int = 0

    def report(self, message: str, force: bool = False) -> None:
        self.progress.update(
            done=self.records,
            message=f"{message} · {self.files} files, {self.bytes / 1e6:.1f} MB written",
            force=force,
            files=self.files,
            records=self.records,
            mb_written=round(self.bytes / 1e6, 1),
        )


def _state_file(work: Path, relative: str) -> Path:
    return work / STATE_DIR / (relative.replace("/", "__") + ".json")


def _save_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(state))
    os.replace(tmp, path)


def _load_state(path: Path) -> dict[str, Any] | None:
    try:
        return orjson.loads(path.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None


def _hash_prefix(handle: Any, length: int) -> Any:
    """sha256 of the first `length` bytes of an open file (to continue a resumed file's hash)."""
    digest = hashlib.sha256()
    handle.seek(0)
    remaining = length
    while remaining:
        block = handle.read(min(remaining, 1 << 20))
        if not block:
            raise ExportError("file shorter than its checkpoint")
        digest.update(block)
        remaining -= len(block)
    return digest


def _write_small(work: Path, relative: str, data: bytes, counters: Counters) -> dict[str, Any]:
    path = work / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    counters.files += 1
    counters.bytes += len(data)
    return {"path": relative, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def sample_chunks(
    task_slug: str, split: str, after_id: int, max_id: int, size: int
) -> Iterator[list[tuple[Sample, list[Image]]]]:
    """Samples of one split in id order with their images in position order, `size` samples at a time.

    Keyset pagination (WHERE id > last ORDER BY id LIMIT n) and one query for the chunk's images:
    two queries per chunk, no server-side cursor, nothing held beyond the chunk.
    """
    rows = (
        exportable_rows()
        .filter(task__slug=task_slug, split=split, id__lte=max_id)
        .select_related("instruction")
        .order_by("id")
    )
    while True:
        samples = list(rows.filter(id__gt=after_id)[:size])
        if not samples:
            return
        images: dict[int, list[Image]] = {sample.pk: [] for sample in samples}
        links = SampleImage.objects.filter(sample_id__in=images).select_related("image")
        for link in links.order_by("sample_id", "position"):
            images[link.sample_id].append(link.image)
        yield [(sample, images[sample.pk]) for sample in samples]
        after_id = samples[-1].pk


def _read_encoded(image: Image) -> str:
    return encode_image(read_image_bytes(image))


def encoded_chunks(
    chunks: Iterator[list[tuple[Sample, list[Image]]]], pool: ThreadPoolExecutor
) -> Iterator[list[tuple[Sample, list[str]]]]:
    """Each chunk with its images read through storage and base64-encoded by the pool's threads;
    the next chunk's images are read while the caller works on this one (at most two chunks held)."""

    def submit(chunk: list[tuple[Sample, list[Image]]]) -> list[tuple[Sample, list[Future[str]]]]:
        return [(sample, [pool.submit(_read_encoded, image) for image in images]) for sample, images in chunk]

    def resolve(queued: list[tuple[Sample, list[Future[str]]]]) -> list[tuple[Sample, list[str]]]:
        return [(sample, [future.result() for future in futures]) for sample, futures in queued]

    pending = None
    for chunk in chunks:
        queued = submit(chunk)
        if pending is not None:
            yield resolve(pending)
        pending = queued
    if pending is not None:
        yield resolve(pending)


class ChunkWriter(threading.Thread):
    """Appends encoded chunks to a split file and hashes them, off the encoding thread (file writes
    and sha256 release the GIL); after each chunk is flushed it saves the resume checkpoint."""

    def __init__(self, handle: Any, digest: Any, state_path: Path, offset: int, records: int) -> None:
        super().__init__(daemon=True, name="export-writer")
        self.handle, self.digest, self.state_path = handle, digest, state_path
        self.offset, self.records = offset, records
        self.queue: queue.Queue[tuple[bytearray, int, int] | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None

    def run(self) -> None:
        while (item := self.queue.get()) is not None:
            if self.error is not None:
                continue  # keep draining so the producer never blocks
            block, last_id, count = item
            try:
                self.handle.write(block)
                self.digest.update(block)
                self.handle.flush()
                self.offset += len(block)
                self.records += count
                _save_state(self.state_path, {"offset": self.offset, "last_id": last_id, "records": self.records})
            except BaseException as exc:  # reported to the producer by put()/close()
                self.error = exc

    def put(self, block: bytearray, last_id: int, count: int) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((block, last_id, count))

    def close(self) -> None:
        """Write what is queued, stop, and raise the writer's error if it had one."""
        self.queue.put(None)
        self.join()
        if self.error is not None:
            raise self.error


def write_split(
    work: Path,
    item: dict[str, Any],
    counters: Counters,
    pool: ThreadPoolExecutor,
    chunk_size: int = CHUNK_SIZE,
    after_chunk: Callable[[], None] | None = None,
    chunks_from: Callable[[int], Iterator[list[tuple[Sample, list[Image]]]]] | None = None,
    record: Callable[[Sample, dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Write (or finish) one split file; returns its manifest entry plus the record count.

    `chunks_from(after_id)` gives the samples another way (M3IT-80 selections), `record` turns each
    built record into what the file holds (its translation)."""
    relative = item["path"]
    path = work / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    state_path = _state_file(work, relative)
    state = _load_state(state_path)
    if state and state.get("complete") and path.is_file() and path.stat().st_size == state["size"]:
        counters.files += 1
        counters.records += state["records"]
        counters.resumed += state["records"]
        counters.bytes += state["size"]
        return {"path": relative, "sha256": state["sha256"], "size": state["size"], "records": state["records"]}

    with open(path, "a+b") as handle:
        size_now = handle.seek(0, os.SEEK_END)
        if state and not state.get("complete") and size_now >= state["offset"]:
            offset, last_id, records = state["offset"], state["last_id"], state["records"]
        else:
            offset, last_id, records = 0, 0, 0
        handle.truncate(offset)
        digest = _hash_prefix(handle, offset)
        handle.seek(offset)
        counters.records += records
        counters.resumed += records
        counters.bytes += offset
        writer = ChunkWriter(handle, digest, state_path, offset, records)
        writer.start()
        try:
            if chunks_from is not None:
                chunks = chunks_from(last_id)
            else:
                chunks = sample_chunks(item["task"], item["split"], last_id, item["max_id"], chunk_size)
            for chunk in encoded_chunks(chunks, pool):
                # One line at a time into the chunk's buffer: orjson over-allocates each result
                # (~16x a long string), so holding a chunk of separate lines would cost far more memory.
                block = bytearray()
                for sample, images in chunk:
                    built = build_record(sample, encoded=images)
                    block += encode_line(record(sample, built) if record else built)
                writer.put(block, chunk[-1][0].pk, len(chunk))
                counters.records += len(chunk)
                counters.bytes += len(block)
                del block, chunk
                counters.report(f"Writing {relative}")
                if after_chunk:
                    after_chunk()
        finally:
            writer.close()
        os.fsync(handle.fileno())
    entry = {"path": relative, "sha256": digest.hexdigest(), "size": writer.offset, "records": writer.records}
    _save_state(state_path, {"complete": True, **entry})
    counters.files += 1
    return entry


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def digest_of(files: list[dict[str, Any]]) -> str:
    """One sha256 over every file: the lines `<sha256>  <path>` (as sha256sum prints them), in path order."""
    lines = "".join(f"{f['sha256']}  {f['path']}\n" for f in sorted(files, key=lambda f: f["path"]))
    return hashlib.sha256(lines.encode()).hexdigest()


@translation.override("en")  # the dataset card and manifest are English, whoever started the export
def run_export(export: Export, progress: Progress) -> dict[str, Any]:
    """The export job's body: write, checksum, publish. Safe to run again after a killed worker."""
    params = export.job.params or {}
    chunk_size = int(params.get("chunk_size") or CHUNK_SIZE)
    pause = float(params.get("pause_per_chunk") or 0)
    final, work = export_dir(export), partial_dir(export)
    counters = Counters(progress)

    if (final / MANIFEST).is_file():  # published by an attempt that died before recording it
        manifest = orjson.loads((final / MANIFEST).read_bytes())
        if (manifest.get("name"), manifest.get("job")) != (export.name, export.job_id):
            raise ExportError(f"{final} holds another export; not overwriting it")
        return record_completion(export, manifest)
    try:
        if (work / MANIFEST).is_file():  # everything was written; the attempt died before the rename
            manifest = orjson.loads((work / MANIFEST).read_bytes())
        else:
            check_still_approved(export.included)
            needed = sum(i.get("estimated_bytes", 0) for i in export.included)
            free = shutil.disk_usage(export_root()).free
            if needed > free:
                raise ExportError(
                    f"not enough disk space: about {needed / 1e9:.1f} GB needed, {free / 1e9:.1f} GB free"
                )
            (work / STATE_DIR).mkdir(parents=True, exist_ok=True)
            manifest = _write_all(export, work, counters, chunk_size, pause)
        check_still_approved(export.included)  # the last moment before anyone can see it
    except BaseException as exc:
        if not isinstance(exc, (KeyboardInterrupt, SystemExit)):
            shutil.rmtree(work, ignore_errors=True)  # failed or cancelled: nothing to resume
        raise
    shutil.rmtree(work / STATE_DIR, ignore_errors=True)
    os.rename(work, final)
    _fsync_dir(final.parent)
    counters.records, counters.files, counters.bytes = (
        manifest["totals"]["records"],
        len(manifest["files"]) + 1,
        manifest["totals"]["bytes"],
    )
    counters.report(f"Export {export.name} complete", force=True)
    return {**record_completion(export, manifest), "resumed_records": counters.resumed}


def _write_all(export: Export, work: Path, counters: Counters, chunk_size: int, pause: float) -> dict[str, Any]:
    included = export.included
    tasks = {t.slug: t for t in Task.objects.filter(slug__in={i["task"] for i in included})}
    pools = instruction_pools(list(tasks.values()))
    files: list[dict[str, Any]] = []
    counters.report("Starting export", force=True)
    with ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="export-read") as pool:
        done_tasks: set[str] = set()
        for item in included:
            task = tasks[item["task"]]
            if task.slug not in done_tasks:
                data = orjson.dumps(pools[task.pk], option=orjson.OPT_INDENT_2) + b"\n"
                files.append(_write_small(work, instructions_path(task), data, counters))
                done_tasks.add(task.slug)
            entry = write_split(
                work, item, counters, pool, chunk_size, after_chunk=(lambda: time.sleep(pause)) if pause else None
            )
            item["records"] = entry.pop("records")
            item["sha256"], item["size"] = entry["sha256"], entry["size"]
            files.append(entry)
            counters.report(f"Wrote {item['path']}")
        for item in export.translated:  # M3IT-80: pools, English sources, translated splits
            if item["kind"] == "pool":
                files.append(_write_small(work, item["path"], m3it80.pool_bytes(item), counters))
                continue
            translate = None
            if item["kind"] == "translation":
                code = item["language"]
                translate = lambda sample, built, code=code: m3it80.translate_record(built, sample, code)  # noqa: E731
            entry = write_split(
                work,
                item,
                counters,
                pool,
                chunk_size,
                chunks_from=lambda after, item=item: m3it80.selection_chunks(item, after, chunk_size),
                record=translate,
            )
            entry.pop("records")
            files.append(entry)
            counters.report(f"Wrote {item['path']}")
    card = render_card(export, tasks, pools)
    files.append(_write_small(work, CARD, card.encode(), counters))
    files.sort(key=lambda f: f["path"])
    manifest = build_manifest(export, tasks, files)
    for entry in files:  # instructions.json and README.md; split files were fsynced as they closed
        if not entry["path"].endswith(".jsonl"):
            with open(work / entry["path"], "rb") as handle:
                os.fsync(handle.fileno())
    manifest_path = work / MANIFEST
    with open(manifest_path.with_suffix(".tmp"), "wb") as handle:
        handle.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(manifest_path.with_suffix(".tmp"), manifest_path)
    for directory in {(work / f["path"]).parent for f in files} | {work}:
        _fsync_dir(directory)
    return manifest


def instruction_pools(tasks: list[Task]) -> dict[int, list[str]]:
    pools: dict[int, list[str]] = {t.pk: [] for t in tasks}
    for task_id, text in (
        Instruction.objects.filter(task__in=tasks).order_by("task_id", "position", "id").values_list("task_id", "text")
    ):
        pools[task_id].append(text)
    return pools


# --- manifest and dataset card ----------------------------------------------------------------


@cache
def app_version() -> str:
    pyproject = Path(settings.BASE_DIR) / "pyproject.toml"
    return tomllib.loads(pyproject.read_text())["project"]["version"]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def prompt_versions(item: dict[str, Any]) -> dict[str, int]:
    """How many records of a split were paraphrased with each prompt version (one grouped query)."""
    rows = (
        exportable_rows()
        .filter(task__slug=item["task"], split=item["split"], id__lte=item["max_id"])
        .values("paraphrase__prompt_version")
        .annotate(n=Count("id"))
    )
    return {str(r["paraphrase__prompt_version"]): r["n"] for r in rows if r["paraphrase__prompt_version"]}


def build_manifest(export: Export, tasks: dict[str, Task], files: list[dict[str, Any]]) -> dict[str, Any]:
    approvals = {
        (ts.task.slug, ts.split): ts
        for ts in TaskSplit.objects.filter(task__slug__in=tasks).select_related("task", "approved_by")
    }
    task_entries: dict[str, dict[str, Any]] = {}
    for item in export.included:
        task = tasks[item["task"]]
        entry = task_entries.setdefault(
            task.slug,
            {
                "slug": task.slug,
                "name": task.name,
                "group": task.group,
                "folder": task.folder,
                "task_dir": task.task_dir,
                "modality": task.modality,
                "language": task.language,
                "licence": task.licence,
                "held_in": task.held_in,
                "instructions": instructions_path(task),
                "splits": {},
            },
        )
        approval = approvals[(task.slug, item["split"])]
        entry["splits"][item["split"]] = {
            "file": item["path"],
            "records": item["records"],
            "approved_by": approval.approved_by.get_username() if approval.approved_by else None,
            "approved_at": _iso(approval.approved_at),
            "prompt_versions": prompt_versions(item),
        }
    return {
        "format": "m3it",
        "format_version": FORMAT_VERSION,
        "name": export.name,
        "app": {"name": "M3IT Studio", "version": app_version()},
        "created_at": _iso(export.created_at),
        "completed_at": _iso(timezone.now()),
        "created_by": export.created_by.get_username() if export.created_by else None,
        "job": export.job_id,
        "requested": export.requested,
        "tasks": list(task_entries.values()),
        "excluded": export.excluded,
        **(
            {"translation": m3it80.manifest_section(export.translated, _translation_excluded(export))}
            if export.translated
            else {}
        ),
        "files": files,
        "totals": {
            "records": sum(i["records"] for i in export.included),
            "files": len(files),
            "bytes": sum(f["size"] for f in files),
        },
        "digest": digest_of(files),
        "digest_method": "sha256 of the lines '<sha256>  <path>\\n' of every file listed, in path order",
    }


def _spread(moments: dict[str, Any]) -> str:
    if moments["mean"] is None:
        return "—"
    return f"{moments['mean']:.1f}" + (f" ± {moments['sd']:.1f}" if moments["sd"] is not None else "")


def instruction_statistics(tasks: list[Task], pools: dict[int, list[str]]) -> dict[str, Any]:
    """Table 2 of the paper for the exported tasks' pools, by annotator.stats (the method of the
    instruction statistics page: words, or characters for Chinese; character Levenshtein distance)."""
    items = [Item(task.slug, task.group, task.language, text) for task in tasks for text in pools[task.pk]]
    report = instruction_report(items, group_labels=dict(Group.choices))
    overall = report.overall.as_dict()
    return {
        "total": report.overall.instructions,
        "per_group": [(row.label, row.instructions) for row in sorted(report.groups, key=lambda r: r.key)],
        "tokens": _spread(overall["tokens"]),
        "within": _spread(overall["within"]),
        "across": _spread(overall["across"]),
    }


def _translation_excluded(export: Export) -> list[dict[str, Any]]:
    return [e for e in export.excluded if "language" in e]


def render_card(export: Export, tasks: dict[str, Task], pools: dict[int, list[str]]) -> str:
    """The dataset card (README.md). Built only from data, so two exports of one state match."""
    rows: dict[str, dict[str, Any]] = {}
    for item in export.included:
        task = tasks[item["task"]]
        row = rows.setdefault(
            task.slug, {"task": task, "train": 0, "val": 0, "test": 0, "dir": f"{task.folder}/{task.task_dir}"}
        )
        row[item["split"]] = item["records"]
    task_rows = sorted(rows.values(), key=lambda r: (r["task"].group, r["task"].slug))
    groups: dict[str, dict[str, int]] = {}
    for row in task_rows:
        group = groups.setdefault(row["task"].get_group_display(), {"train": 0, "val": 0, "test": 0})
        for split in ("train", "val", "test"):
            group[split] += row[split]
    ordered_tasks = [r["task"] for r in task_rows]
    return render_to_string(
        "pipeline/export/card.md",
        {
            "task_rows": task_rows,
            "groups": groups,
            "totals": {s: sum(g[s] for g in groups.values()) for s in ("train", "val", "test")},
            "held_in": [t.slug for t in ordered_tasks if t.held_in],
            "held_out": [t.slug for t in ordered_tasks if not t.held_in],
            "instructions": instruction_statistics(ordered_tasks, pools),
            "excluded": export.excluded,
            "translation": m3it80.manifest_section(export.translated, _translation_excluded(export))
            if export.translated
            else None,
        },
    )


def record_completion(export: Export, manifest: dict[str, Any]) -> dict[str, Any]:
    """Copy the manifest's facts onto the Export row; returns the job's result."""
    manifest_size = (export_dir(export) / MANIFEST).stat().st_size
    by_path = {f["path"]: f for f in manifest["files"]}
    records = {(t["slug"], split): info["records"] for t in manifest["tasks"] for split, info in t["splits"].items()}
    export.included = [
        {
            **item,
            "records": records[(item["task"], item["split"])],
            "sha256": by_path[item["path"]]["sha256"],
            "size": by_path[item["path"]]["size"],
        }
        for item in export.included
    ]
    export.digest = manifest["digest"]
    export.size_bytes = manifest["totals"]["bytes"] + manifest_size
    export.file_count = len(manifest["files"]) + 1
    export.completed_at = datetime.fromisoformat(manifest["completed_at"])
    export.save(update_fields=["included", "digest", "size_bytes", "file_count", "completed_at"])
    return {
        "export": export.pk,
        "name": export.name,
        "records": manifest["totals"]["records"],
        "files": export.file_count,
        "bytes": export.size_bytes,
        "digest": export.digest,
    }


# --- verification, deletion, archives -----------------------------------------------------------


def verify_export(export: Export) -> list[str]:
    """Files whose size or sha256 differ from the manifest (re-read from disk, block by block)."""
    manifest = read_manifest(export)
    problems = []
    base = export_dir(export)
    for entry in manifest["files"]:
        path = base / entry["path"]
        if not path.is_file():
            problems.append(f"{entry['path']}: missing")
            continue
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        if path.stat().st_size != entry["size"] or digest.hexdigest() != entry["sha256"]:
            problems.append(f"{entry['path']}: checksum mismatch")
    if digest_of(manifest["files"]) != manifest["digest"]:
        problems.append("digest mismatch")
    return problems


def delete_export(export: Export) -> None:
    """Remove an export's files and its row (the job stays in the job history)."""
    if not export.job.is_terminal:
        raise ExportError(f"export {export.name} is still running; cancel its job first")
    for path in (export_dir(export), partial_dir(export)):
        if path.exists():
            shutil.rmtree(path)
    export.delete()


def archive(export: Export) -> Any:
    """A zip of a finished export, produced chunk by chunk while it is sent (zipstream-ng).

    Files are stored uncompressed (base64 hardly compresses), so the size is known up front:
    `len(archive(export))` is the exact Content-Length.
    """
    from zipstream import ZipStream

    manifest = read_manifest(export)
    stream = ZipStream(sized=True)
    for relative in [*(f["path"] for f in manifest["files"]), MANIFEST]:
        stream.add_path(str(export_file(export, relative)), f"{export.name}/{relative}")
    return stream
