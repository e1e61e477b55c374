"""The samples browser's queries: filters and keyset pages (no COUNT, no OFFSET, nothing over image data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from pipeline.models import Sample


@dataclass
class KeysetPage:
    items: list[Any]
    previous_before: int | None  # ?before=<id> shows the page before
    next_after: int | None  # ?after=<id> shows the page after


def filtered_samples(
    task: Any = None, split: str = "", paraphrase_state: str = "", qc_state: str = ""
) -> QuerySet[Sample]:
    """Samples with their task, instruction and ordered images loaded in three queries per page."""
    samples = Sample.objects.select_related("task", "instruction").prefetch_related("sample_images__image")
    if task:
        samples = samples.filter(task=task)
    if split:
        samples = samples.filter(split=split)
    if paraphrase_state:
        samples = samples.filter(paraphrase_state=paraphrase_state)
    if qc_state:
        samples = samples.filter(qc_state=qc_state)
    return samples


def keyset_page(queryset: QuerySet, after: int | None, before: int | None, size: int) -> KeysetPage:
    """One page in id order after `after` (or before `before`); one extra row tells whether more exist."""
    if before is not None:
        rows = list(queryset.filter(id__lt=before).order_by("-id")[: size + 1])
        more_before = len(rows) > size
        items = rows[:size][::-1]
        return KeysetPage(items, items[0].pk if items and more_before else None, items[-1].pk if items else None)
    if after is not None:
        queryset = queryset.filter(id__gt=after)
    rows = list(queryset.order_by("id")[: size + 1])
    items = rows[:size]
    has_next = len(rows) > size
    return KeysetPage(
        items,
        items[0].pk if items and after is not None else None,
        items[-1].pk if items and has_next else None,
    )
