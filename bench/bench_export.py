"""Benchmark: export throughput against the disk's limit and against `datasets`, and memory at two sizes.

    .venv/bin/python bench/bench_export.py            # quick: 1k and 5k samples
    .venv/bin/python bench/bench_export.py --full     # the issue's sizes: 10k and 50k samples

Builds a throw-away project (SQLite, media and exports under --workdir, on the same disk) with samples
of ~100 kB distinct PNG images, all splits approved, then runs each measurement in a fresh process:

- export:   pipeline.export.writer, as the job runs it (chunks, prefetch, checksums, fsync, rename);
- limit:    the same pre-encoded lines (taken from the export just written) written raw to the same
            disk, as many bytes in as many files, fsynced the same way;
- datasets: `datasets.Dataset.from_generator(...).to_json(...)` over the same records (same reading
            code), fsynced too.

Peak RSS is each process's ru_maxrss; the export's at the small and the large size should be flat.
The data set is kept in --workdir and reused by later runs of the same size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL_TASK, LARGE_TASK = "bench-small", "bench-large"


def configure(workdir: Path) -> None:
    """Point Django at the bench's own database, media and export folders, then set it up."""
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}",
        MEDIA_ROOT=str(workdir / "media"),
        EXPORT_ROOT=str(workdir / "exports"),
        M3IT_VAR_DIR=str(workdir / "var"),
        CELERY_TASK_ALWAYS_EAGER="true",
        JOB_PROGRESS_MIN_INTERVAL="1.0",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the data set ---------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def base_images(count: int = 16) -> list[tuple[bytes, int, int]]:
    """Random-noise PNGs of about 100 kB (noise does not compress), of slightly different sizes."""
    import io

    from PIL import Image as PILImage

    images = []
    for index in range(count):
        side = 176 + index % 12
        img = PILImage.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        out = io.BytesIO()
        img.save(out, format="PNG", compress_level=1)
        images.append((out.getvalue(), side, side))
    return images


def unique_png(base: bytes, index: int) -> bytes:
    """The base PNG with a tEXt chunk naming the sample: a distinct, valid file per sample."""
    iend = base.rindex(b"IEND") - 4
    return base[:iend] + _png_chunk(b"tEXt", b"bench\x00" + str(index).encode()) + base[iend:]


def build_dataset(samples: dict[str, int]) -> None:
    """Tasks with `samples[slug]` samples each (80/10/10 train/val/test), all splits approved."""
    import hashlib

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.core.management import call_command
    from django.db import transaction

    from annotator.models import Instruction, QCStatus, Task, TaskSplit
    from pipeline.models import Image, Sample, SampleImage

    call_command("migrate", verbosity=0)
    bases = base_images()
    offset = 0
    for slug, count in samples.items():
        if Task.objects.filter(slug=slug).exists():
            offset += count
            continue
        task = Task.objects.create(slug=slug, name=slug, group="vqa", folder="vqa", task_dir=slug.replace("-", "_"))
        pool = [
            Instruction.objects.create(task=task, text=f"Instruction {n}: answer the question about the image.")
            for n in range(10)
        ]
        for split in ("train", "val", "test"):
            TaskSplit.objects.create(task=task, split=split, qc_status=QCStatus.APPROVED)
        started = time.monotonic()
        for start in range(0, count, 1000):
            with transaction.atomic():
                batch = range(start, min(start + 1000, count))
                images, sample_rows = [], []
                for index in batch:
                    data, width, height = bases[index % len(bases)]
                    data = unique_png(data, offset + index)
                    digest = hashlib.sha256(data).hexdigest()
                    name = default_storage.save(f"images/{digest[:2]}/{digest}.png", ContentFile(data))
                    images.append(
                        Image(sha256=digest, file=name, format="PNG", width=width, height=height, size_bytes=len(data))
                    )
                    split = "train" if index % 10 < 8 else ("val" if index % 10 == 8 else "test")
                    sample_rows.append(
                        Sample(
                            task=task,
                            split=split,
                            source_id=f"{slug}-{index}",
                            instruction=pool[index % 10],
                            instruction_seed=index,
                            inputs=f"What is shown in picture number {index}?",
                            outputs=f"Picture {index} shows random coloured noise, as every benchmark picture does.",
                            original_output="noise",
                            meta={"image_id": index, "source": "bench"},
                        )
                    )
                Image.objects.bulk_create(images)
                Sample.objects.bulk_create(sample_rows)
                SampleImage.objects.bulk_create(
                    SampleImage(sample=s, image=i, position=0) for s, i in zip(sample_rows, images, strict=True)
                )
            print(
                f"  {slug}: {min(start + 1000, count)}/{count} samples ({time.monotonic() - started:.0f} s)", flush=True
            )
        offset += count


# --- the three measurements (each in its own process) ----------------------------------------


def measure_export(tasks: list[str]) -> dict:
    from pipeline.export import writer as exports

    started = time.perf_counter()
    export = exports.start_export(None, tasks)  # eager: the job runs here when the start commits
    seconds = time.perf_counter() - started
    export.refresh_from_db()
    export.job.refresh_from_db()
    assert export.completed_at, export.job.error
    return {
        "seconds": seconds,
        "bytes": export.size_bytes,
        "records": export.job.result["records"],
        "path": str(exports.export_dir(export)),
        "peak_rss_mb": peak_rss_mb(),
    }


def measure_limit(export_path: str, out: Path) -> dict:
    """Write the export's own encoded lines again, raw: same bytes per file, same fsync, no encoding."""
    source = Path(export_path)
    files = sorted(p for p in source.rglob("*.jsonl"))
    with open(files[0], "rb") as handle:
        lines = [handle.readline() for _ in range(256)]
    block = b"".join(line for line in lines if line)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    written = 0
    started = time.perf_counter()
    for index, path in enumerate(files):
        size = path.stat().st_size
        with open(out / f"{index}.jsonl", "wb") as handle:
            remaining = size
            while remaining:
                piece = block[:remaining]
                handle.write(piece)
                remaining -= len(piece)
            handle.flush()
            os.fsync(handle.fileno())
        written += size
    seconds = time.perf_counter() - started
    shutil.rmtree(out)
    return {"seconds": seconds, "bytes": written, "peak_rss_mb": peak_rss_mb()}


def measure_datasets(tasks: list[str], out: Path) -> dict:
    """The same records through `datasets`: from_generator (Arrow cache) then to_json (JSON lines)."""
    from concurrent.futures import ThreadPoolExecutor

    from datasets import Dataset, disable_progress_bars

    from pipeline.export import writer as exports
    from pipeline.export.record import build_record

    disable_progress_bars()
    plan = exports.plan_export(tasks)

    def records():
        with ThreadPoolExecutor(max_workers=exports.READ_THREADS) as pool:
            for item in plan.included:
                chunks = exports.sample_chunks(item["task"], item["split"], 0, item["max_id"], exports.CHUNK_SIZE)
                for chunk in exports.encoded_chunks(chunks, pool):
                    for sample, images in chunk:
                        yield build_record(sample, encoded=images)

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    target = out / "all.jsonl"
    started = time.perf_counter()
    dataset = Dataset.from_generator(records, cache_dir=str(out / "cache"))
    dataset.to_json(str(target))
    with open(target, "rb") as handle:
        os.fsync(handle.fileno())
    seconds = time.perf_counter() - started
    result = {
        "seconds": seconds,
        "bytes": target.stat().st_size,
        "records": dataset.num_rows,
        "peak_rss_mb": peak_rss_mb(),
    }
    del dataset
    shutil.rmtree(out)
    return result


def child(args: argparse.Namespace) -> None:
    configure(args.workdir)
    tasks = args.tasks.split(",")
    if args.child == "export":
        result = measure_export(tasks)
    elif args.child == "limit":
        result = measure_limit(args.source, args.workdir / "limit")
    else:
        result = measure_datasets(tasks, args.workdir / "datasets")
    print("RESULT " + json.dumps(result))


def run_child(workdir: Path, kind: str, tasks: list[str], source: str = "") -> dict:
    command = [sys.executable, __file__, "--workdir", str(workdir), "--child", kind, "--tasks", ",".join(tasks)]
    if source:
        command += ["--source", source]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[7:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="10k and 50k samples (about 12 GB of disk at peak)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the bench project lives (same disk)")
    parser.add_argument("--child", choices=["export", "limit", "datasets"], help=argparse.SUPPRESS)
    parser.add_argument("--tasks", default="", help=argparse.SUPPRESS)
    parser.add_argument("--source", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    small, large = (10_000, 50_000) if args.full else (1_000, 5_000)
    args.workdir = (args.workdir or ROOT / "var" / f"bench-export-{large}").resolve()
    if args.child:
        child(args)
        return

    print(f"Building the bench data set in {args.workdir} ({small} + {large - small} samples, ~100 kB images)")
    configure(args.workdir)
    build_dataset({SMALL_TASK: small, LARGE_TASK: large - small})
    free = shutil.disk_usage(args.workdir).free
    print(f"Disk free at {args.workdir}: {free / 1e9:.1f} GB")

    small_export = run_child(args.workdir, "export", [SMALL_TASK])
    shutil.rmtree(small_export["path"])
    both = [SMALL_TASK, LARGE_TASK]
    export = run_child(args.workdir, "export", both)
    limit_first = run_child(args.workdir, "limit", both, source=export["path"])
    shutil.rmtree(export["path"])
    datasets_run = run_child(args.workdir, "datasets", both)

    def mbps(run: dict) -> float:
        return run["bytes"] / 1e6 / run["seconds"]

    records = export["records"]
    print()
    print(f"{'run':<34}{'records':>9}{'MB':>9}{'seconds':>9}{'MB/s':>9}{'rec/s':>9}{'peak RSS MB':>13}")
    rows = [
        (f"export ({small} samples)", small_export),
        (f"export ({large} samples)", export),
        ("limit: same lines raw, same disk", {**limit_first, "records": records}),
        ("datasets from_generator+to_json", datasets_run),
    ]
    for label, run in rows:
        print(
            f"{label:<34}{run['records']:>9}{run['bytes'] / 1e6:>9.0f}{run['seconds']:>9.1f}{mbps(run):>9.1f}"
            f"{run['records'] / run['seconds']:>9.0f}{run['peak_rss_mb']:>13.0f}"
        )
    print()
    print(f"export / limit (MB/s):          {mbps(export) / mbps(limit_first):.2f}x   (target >= 0.5x)")
    print(
        f"export / datasets (same records, time): {datasets_run['seconds'] / export['seconds']:.2f}x   (target >= 3x)"
        f"   [MB/s ratio {mbps(export) / mbps(datasets_run):.2f}x; datasets escapes '/' so writes more bytes]"
    )
    print(
        f"peak RSS {large} / {small} samples:    {export['peak_rss_mb'] / small_export['peak_rss_mb']:.2f}x   "
        f"({small_export['peak_rss_mb']:.0f} MB -> {export['peak_rss_mb']:.0f} MB; flat is 1.0x)"
    )


if __name__ == "__main__":
    main()
