"""Benchmark: the statistics page's Table 2 computation against a plain pair-by-pair loop.

    .venv/bin/python bench/instruction_stats.py          # 400 instructions over 40 tasks (the paper's size)
    .venv/bin/python bench/instruction_stats.py --full   # 4,000 instructions over 400 tasks

Both runs use the same synthetic instructions (seeded) in this process, one after the other; the script
checks that they agree and prints wall time and peak traced memory of each, and the ratios.
No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rapidfuzz.distance import Levenshtein

from annotator.stats import Item, instruction_report

WORDS = [
    "look",
    "at",
    "the",
    "image",
    "picture",
    "photo",
    "and",
    "answer",
    "question",
    "describe",
    "briefly",
    "what",
    "you",
    "see",
    "in",
    "detail",
    "give",
    "short",
    "sentence",
    "based",
    "on",
    "visual",
    "content",
    "reply",
    "carefully",
    "examine",
    "scene",
    "following",
    "below",
    "tell",
    "me",
]
GROUPS = ("captioning", "classification", "vqa", "kvqa", "reasoning", "generation")


def synthetic(tasks: int, per_task: int, seed: int = 1234) -> list[Item]:
    rng = random.Random(seed)
    return [
        Item(f"task-{t}", GROUPS[t % len(GROUPS)], "en", " ".join(rng.choices(WORDS, k=rng.randint(6, 30))))
        for t in range(tasks)
        for _ in range(per_task)
    ]


def naive(items: list[Item]) -> tuple[float, float, float, float]:
    """Every pair with a Python loop: the obvious way, kept as the baseline."""
    within, across = [], []
    for a, b in itertools.combinations(items, 2):
        (within if a.task == b.task else across).append(Levenshtein.distance(a.text, b.text))
    return statistics.mean(within), statistics.stdev(within), statistics.mean(across), statistics.stdev(across)


def measure(function, items):
    """Wall time and peak traced memory (Python objects and numpy arrays) of one call."""
    tracemalloc.start()
    start = time.perf_counter()
    result = function(items)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return result, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true", help="4,000 instructions instead of 400")
    args = parser.parse_args()
    tasks = 400 if args.full else 40
    items = synthetic(tasks, 10)
    pairs = len(items) * (len(items) - 1) // 2
    print(f"{len(items)} instructions, {tasks} tasks, {pairs:,} pairs")

    baseline, naive_s, naive_mb = measure(naive, items)
    report, blocked_s, blocked_mb = measure(instruction_report, items)

    ours = (report.overall.within.mean, report.overall.within.sd, report.overall.across.mean, report.overall.across.sd)
    assert all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(ours, baseline, strict=True)), (ours, baseline)
    print(f"within {ours[0]:.1f} ± {ours[1]:.1f}, across {ours[2]:.1f} ± {ours[3]:.1f} (both methods agree)")
    print(f"pair-by-pair loop (baseline): {naive_s:8.3f} s  peak {naive_mb:8.1f} MB")
    print(
        f"instruction_report (cdist):   {blocked_s:8.3f} s  peak {blocked_mb:8.1f} MB   "
        f"time ratio {naive_s / blocked_s:.2f}x, memory ratio {naive_mb / blocked_mb:.1f}x"
    )


if __name__ == "__main__":
    main()
