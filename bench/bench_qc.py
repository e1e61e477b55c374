"""Benchmark: the QC pages and the sample draw at a small and a large size, measured side by side.

    .venv/bin/python bench/bench_qc.py            # quick: 3 then 30 split reviews; draw over 2k and 20k samples
    .venv/bin/python bench/bench_qc.py --full     # 120 split reviews (40 tasks x 3 splits); 20k and 200k samples

Builds a throw-away project (SQLite and media under --workdir), then:

- review page: a review of one-image samples at the small size, then one of 8-frame samples at the large
  size; queries and median time per request. Baseline, side by side: the same items read the naive way
  (each sample's instruction and images fetched per sample), which is what the page avoids.
- dashboard: every split reviewed, some with a second reviewer; queries and median time at both sizes.
- draw: the seeded reservoir draw of 10 samples streamed over a split's ids at two sizes (time grows with
  the split, memory does not: it keeps 10 ids).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def configure(workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}",
        MEDIA_ROOT=str(workdir / "media"),
        M3IT_VAR_DIR=str(workdir / "var"),
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def progress(label: str, done: int, total: int) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    end = "\n" if done >= total else ""
    stream = sys.stdout if sys.stdout.isatty() else None
    if stream or done >= total:
        print(f"\r  {label:<28} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end, flush=True)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, int]:
    """Median milliseconds of `repeat` calls, and the queries of one call."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    connection.queries_log.clear()  # DEBUG keeps at most 9000 queries; a full log would count nothing
    with CaptureQueriesContext(connection) as ctx:
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), len(ctx)


class World:
    def __init__(self) -> None:
        from tests.factories import AdminFactory, AnnotatorFactory, ReviewerFactory

        self.admin = AdminFactory(username="bench-admin")
        self.writer = AnnotatorFactory(username="bench-writer")
        self.reviewer = ReviewerFactory(username="bench-reviewer")
        self.second = ReviewerFactory(username="bench-second")
        self.count = 0

    def reviewed_split(self, samples: int, frames: int = 1, second: bool = False) -> object:
        """A new task whose train split has `samples` samples and a finished review (plus val/test)."""
        from annotator.models import TaskSplit
        from pipeline.media.images import store_image
        from pipeline.models import Sample, SampleImage
        from qc import review
        from tests.factories import InstructionFactory, TaskFactory, png_bytes

        self.count += 1
        task = TaskFactory(slug=f"bench-{self.count}", writer=self.writer, reviewer=self.reviewer)
        pool = [InstructionFactory(task=task, author=self.writer) for _ in range(10)]
        images = [store_image(png_bytes((self.count % 256, f * 30, 99), size=(64, 48))) for f in range(frames)]
        rows = Sample.objects.bulk_create(
            Sample(task=task, split="train", source_id=f"s{i}", instruction=pool[i % 10], inputs="Q?", outputs="A.")
            for i in range(samples)
        )
        SampleImage.objects.bulk_create(
            SampleImage(sample=s, image=img, position=p) for s in rows for p, img in enumerate(images)
        )
        split = TaskSplit.objects.get(task=task, split="train")
        rev = review.start_review(split, self.reviewer)
        if second:
            review.request_second_review(split, self.admin, self.second)
        for index, item in enumerate(rev.items.order_by("position")):
            if index == 3:
                review.decide(item, self.reviewer, "rejected", problems=["outputs"], comment="short")
            else:
                review.decide(item, self.reviewer, "approved")
        return rev


def naive_items(review_id: int) -> int:
    """The baseline: what a page that reads each sample's instruction and images per sample costs."""
    from qc.models import Review

    rev = Review.objects.get(pk=review_id)
    n = 0
    for item in rev.items.all():
        sample = item.sample
        n += len(sample.instruction.text if sample.instruction else "")
        n += sum(link.image.width for link in sample.sample_images.all())
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the large sizes (slower)")
    parser.add_argument("--repeat", type=int, default=15, help="requests per measurement")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder, removed after")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-qc-"))
    try:
        run(workdir, args)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def run(workdir: Path, args: argparse.Namespace) -> None:
    configure(workdir)
    from django.test import Client
    from django.urls import reverse

    from qc.selection import draw_samples

    small_splits, large_splits = (3, 120) if args.full else (3, 30)
    draw_small, draw_large = (20_000, 200_000) if args.full else (2_000, 20_000)
    world = World()
    reviewer = Client()
    reviewer.force_login(world.reviewer)
    admin = Client()
    admin.force_login(world.admin)

    print(f"QC benchmark ({'full' if args.full else 'quick'}; median of {args.repeat} requests; SQLite)")
    reviews = []
    for i in range(small_splits):
        reviews.append(world.reviewed_split(20, frames=1, second=i == 0))
        progress("building small", i + 1, small_splits)
    page_small = reviews[0].pk
    small = {
        "review": timed(lambda: reviewer.get(reverse("review-detail", args=[page_small])), args.repeat),
        "naive": timed(lambda: naive_items(page_small), args.repeat),
        "dashboard": timed(lambda: admin.get(reverse("qc-dashboard")), args.repeat),
    }
    for i in range(large_splits - small_splits):
        reviews.append(world.reviewed_split(40, frames=8 if i == 0 else 1, second=i % 3 == 0))
        progress("building large", i + 1, large_splits - small_splits)
    page_large = reviews[small_splits].pk
    large = {
        "review": timed(lambda: reviewer.get(reverse("review-detail", args=[page_large])), args.repeat),
        "naive": timed(lambda: naive_items(page_large), args.repeat),
        "dashboard": timed(lambda: admin.get(reverse("qc-dashboard")), args.repeat),
    }
    print(f"\n{'measurement':<44}{'small':>16}{'large':>16}{'ratio':>8}")
    labels = {
        "review": "review page (1 image -> 8 frames/sample)",
        "naive": "baseline: naive per-sample reads",
        "dashboard": f"dashboard ({small_splits} -> {large_splits} reviewed splits)",
    }
    for key, label in labels.items():
        (ms_s, q_s), (ms_l, q_l) = small[key], large[key]
        print(f"{label:<44}{ms_s:>9.1f} ms {q_s:>3}q{ms_l:>9.1f} ms {q_l:>3}q{ms_l / ms_s:>7.2f}x")
    print(
        f"review page vs baseline queries: {small['review'][1]} vs {small['naive'][1]} (small), "
        f"{large['review'][1]} vs {large['naive'][1]} (large)"
    )

    from pipeline.models import Sample
    from tests.factories import TaskFactory

    timings = []
    for size in (draw_small, draw_large):
        task = TaskFactory(slug=f"bench-draw-{size}")
        batch = 5000
        for start in range(0, size, batch):
            Sample.objects.bulk_create(
                Sample(task=task, split="train", source_id=f"d{i}", outputs="x")
                for i in range(start, min(size, start + batch))
            )
            progress(f"building draw {size}", min(size, start + batch), size)
        ms, _ = timed(lambda task=task: draw_samples(task.pk, "train", 12345), max(3, args.repeat // 5))
        timings.append(ms)
    print(
        f"{'draw 10 of a split (streamed ids)':<44}{timings[0]:>9.1f} ms    {timings[1]:>9.1f} ms    "
        f"{timings[1] / timings[0]:>7.2f}x  (size ratio {draw_large / draw_small:.0f}x)"
    )


if __name__ == "__main__":
    main()
