"""The seeded draw of the samples a reviewer checks: recorded on the Review, repeatable anywhere."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Collection, Iterable

from pipeline.models import Sample

from .models import SAMPLE_SIZE


def review_seed(task_slug: str, split: str, round_number: int) -> int:
    """A stable seed from the split's identity and the review round."""
    digest = hashlib.sha256(f"qc|{task_slug}|{split}|{round_number}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


def reservoir(ids: Iterable[int], k: int, seed: int) -> list[int]:
    """k items of a stream chosen uniformly with a seeded RNG (Algorithm R): O(k) memory, one pass.

    The same stream in the same order with the same seed gives the same choice.
    """
    rng = random.Random(seed)
    chosen: list[int] = []
    for index, value in enumerate(ids):
        if index < k:
            chosen.append(value)
        else:
            slot = rng.randint(0, index)
            if slot < k:
                chosen[slot] = value
    rng.shuffle(chosen)
    return chosen


def draw_samples(task_id: int, split: str, seed: int, k: int = SAMPLE_SIZE, exclude: Collection[int] = ()) -> list[int]:
    """Ids of up to k samples of a split, streamed in id order; samples reviewed before are avoided
    while enough others remain (a re-review looks at new samples)."""
    ids = Sample.objects.filter(task_id=task_id, split=split).order_by("id").values_list("id", flat=True)
    excluded = set(exclude)
    fresh = reservoir((i for i in ids.iterator(chunk_size=5000) if i not in excluded), k, seed)
    if len(fresh) < k and excluded:
        # Too few new samples: top up from the ones seen before, still seeded.
        seen = reservoir((i for i in ids.iterator(chunk_size=5000) if i in excluded), k - len(fresh), seed + 1)
        fresh += seen
    return fresh
