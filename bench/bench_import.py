"""Benchmark: the batched importer against a naive one-ORM-object-per-row loop, and memory at two sizes.

    .venv/bin/python bench/bench_import.py           # quick: 2k and 20k records, naive loop on 300
    .venv/bin/python bench/bench_import.py --full    # the issue's sizes: 10k and 100k, naive loop on 2k

Data: synthetic VQA v2 files (questions JSON + annotations JSON with ten answers each, in the published
layout) over 100 small JPEG images shared by all records. Database: PostgreSQL, a throw-away database
(`--database-url`, default postgres://postgres@127.0.0.1:5432/m3it_imports_bench) created, migrated and
dropped by this script. Every measurement runs in a fresh process on empty tables:

- batched:  pipeline.imports.importer.Importer, as the import job runs it (check pass, then batches of 1000);
- naive:    the same adapter rows, then per row `store_image` (read, validate, look up, insert),
            `Sample.objects.create`, `SampleImage.objects.create`, `draw_instruction` (its pool query
            and save) — what an import written without batching does.

The naive loop runs on fewer rows (it is slow); rates (rows/s) are compared. Peak RSS is each process's
ru_maxrss; the batched importer's at the small and the large size should be flat.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
IMAGES = 100
TASK = "vqa-v2"


def configure(db_url: str, workdir: Path) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(40),  # DEBUG off: no query log
        DATABASE_URL=db_url,
        MEDIA_ROOT=str(workdir / "media"),
        IMPORT_ROOT=str(workdir / "data"),
        M3IT_VAR_DIR=str(workdir / "var"),
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- data -----------------------------------------------------------------------------------


def write_data(folder: Path, count: int) -> None:
    """Questions and annotations files written item by item (the parent never holds them in memory)."""
    import io

    from PIL import Image as PILImage

    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    for image_id in range(IMAGES):
        img = PILImage.new("RGB", (64, 48), (image_id * 2 % 256, 90, 255 - image_id * 2 % 256))
        for bit in range(8):  # the id in black and white blocks: distinct bytes even as JPEG
            if image_id >> bit & 1:
                img.paste((0, 0, 0), (bit * 8, 0, bit * 8 + 8, 8))
        out = io.BytesIO()
        img.save(out, format="JPEG", quality=90)
        (images / f"COCO_train2014_{image_id:012d}.jpg").write_bytes(out.getvalue())
    with (folder / "questions.json").open("w") as q, (folder / "annotations.json").open("w") as a:
        q.write('{"info": {}, "task_type": "Open-Ended", "data_subtype": "train2014", "questions": [')
        a.write('{"info": {}, "data_subtype": "train2014", "annotations": [')
        for i in range(count):
            sep = "," if i else ""
            image_id = i % IMAGES
            q.write(
                sep + json.dumps({"image_id": image_id, "question": f"What is shown in picture {i}?", "question_id": i})
            )
            answers = [{"answer": f"thing {i % 37}", "answer_confidence": "yes", "answer_id": k + 1} for k in range(10)]
            a.write(
                sep
                + json.dumps(
                    {
                        "question_id": i,
                        "image_id": image_id,
                        "question_type": "what is",
                        "answer_type": "other",
                        "multiple_choice_answer": f"thing {i % 37}",
                        "answers": answers,
                    }
                )
            )
        q.write("]}")
        a.write("]}")


# --- the child: one measurement -------------------------------------------------------------


def reset_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE pipeline_sampleimage, pipeline_sample, pipeline_image RESTART IDENTITY CASCADE")


def run_batched(folder: str) -> dict:
    from pipeline.imports.importer import build_importer

    importer = build_importer({"adapter": "vqa-v2", "task": TASK, "split": "train", "folder": folder})
    outcome = importer.run()
    assert outcome.rejected == 0, outcome.first_rejected
    return {"rows": outcome.created, "images": outcome.images_stored}


def run_naive(folder: str) -> dict:
    from annotator.models import Task
    from pipeline.imports.adapters import get_adapter
    from pipeline.imports.adapters.base import Draft, Target
    from pipeline.imports.importer import resolve_folder
    from pipeline.media.images import store_image
    from pipeline.models import ParaphraseState, Sample, SampleImage
    from pipeline.samples.selection import draw_instruction

    adapter = get_adapter("vqa-v2")
    source = adapter.source_files(resolve_folder(folder), {})
    task = Task.objects.get(slug=TASK)
    rows = 0
    for row in adapter.rows(source, {}, Target(TASK, "train")):
        if not isinstance(row, Draft):
            continue
        image = store_image((source.root / row.media[0].path).read_bytes())
        sample = Sample.objects.create(
            task=task,
            split="train",
            source_id=row.source_id,
            inputs=row.inputs,
            outputs=row.output,
            original_output=row.output,
            meta=row.meta,
            paraphrase_state=ParaphraseState.PENDING,
        )
        SampleImage.objects.create(sample=sample, image=image, position=0)
        draw_instruction(sample)
        rows += 1
    return {"rows": rows, "images": IMAGES}


def child(args: argparse.Namespace) -> None:
    configure(args.database_url, Path(args.workdir))
    reset_tables()
    started = time.perf_counter()
    result = (run_batched if args.child == "batched" else run_naive)(args.folder)
    seconds = time.perf_counter() - started
    from pipeline.models import Sample

    assert Sample.objects.count() == args.rows == result["rows"], (args.rows, result)
    print(json.dumps({**result, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}))


# --- the parent -----------------------------------------------------------------------------


def admin_connection(db_url: str):
    import psycopg

    parsed = urlparse(db_url)
    return psycopg.connect(
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        dbname="postgres",
        autocommit=True,
    )


def create_database(db_url: str, workdir: Path) -> None:
    name = urlparse(db_url).path.lstrip("/")
    with admin_connection(db_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": db_url, "SECRET_KEY": "bench", "M3IT_VAR_DIR": str(workdir / "var")}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "load_m3it_tasks"], cwd=ROOT, env=env, check=True, capture_output=True)
    # A pool of ten instructions, so every sample draws one (as in production).
    script = (
        "from annotator.models import Instruction, Task; t = Task.objects.get(slug='vqa-v2'); "
        "[Instruction.objects.create(task=t, text=f'Answer the question about the image ({i}).') for i in range(10)]"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, check=True, capture_output=True
    )


def drop_database(db_url: str) -> None:
    name = urlparse(db_url).path.lstrip("/")
    with admin_connection(db_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def measure(args: argparse.Namespace, workdir: Path, kind: str, rows: int) -> dict:
    folder = f"vqa-{rows}"
    if not (workdir / "data" / folder / "questions.json").exists():
        write_data(workdir / "data" / folder, rows)
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--rows",
        str(rows),
        "--folder",
        folder,
        "--workdir",
        str(workdir),
        "--database-url",
        args.database_url,
    ]
    out = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["rate"] = rows / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="10k and 100k records, naive loop on 2k")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/m3it_imports_bench"),
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder and the database")
    parser.add_argument("--child", choices=["batched", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    small, large, naive_rows = (10_000, 100_000, 2_000) if args.full else (2_000, 20_000, 300)
    workdir = Path(tempfile.mkdtemp(prefix="bench-import-"))
    print(f"Import benchmark ({'full' if args.full else 'quick'}): synthetic VQA v2, {IMAGES} shared images")
    print(f"database {args.database_url}, work folder {workdir}, {os.cpu_count()} CPUs")
    try:
        create_database(args.database_url, workdir)
        naive = measure(args, workdir, "naive", naive_rows)
        batched_small = measure(args, workdir, "batched", small)
        batched_large = measure(args, workdir, "batched", large)
    finally:
        if not args.keep:
            drop_database(args.database_url)
            shutil.rmtree(workdir, ignore_errors=True)

    print(f"\n{'':26}{'rows':>9}{'seconds':>10}{'rows/s':>10}{'peak RSS MB':>13}")
    for label, rows, result in (
        ("naive ORM loop", naive_rows, naive),
        ("batched importer", small, batched_small),
        ("batched importer", large, batched_large),
    ):
        print(f"{label:26}{rows:>9,}{result['seconds']:>10.2f}{result['rate']:>10,.0f}{result['peak_rss_mb']:>13.1f}")
    speed = batched_large["rate"] / naive["rate"]
    rss = batched_large["peak_rss_mb"] / batched_small["peak_rss_mb"]
    print(f"\nspeed: batched ({large:,} rows) / naive ({naive_rows:,} rows) = {speed:.1f}x   (target >= 20x)")
    print(f"memory: peak RSS at {large:,} / at {small:,} rows = {rss:.2f}x   (target <= 1.2x)")


if __name__ == "__main__":
    main()
