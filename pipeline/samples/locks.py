"""The one order in which writers lock rows, so two of them never wait on each other in a circle.

    1. TaskSplit rows (by primary key): the split's QC status is what every writer may change;
    2. (qc only) the Review, then its ReviewItems;
    3. Sample rows (by primary key).

QC decisions lock the split, then update the sample (qc.review); paraphrase writes and imports lock
the splits of their samples first, then the samples. Before this order, a paraphrase write locked its
samples and then waited for a split that a reviewer held while waiting for one of those samples.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from annotator.models import TaskSplit
from pipeline.models import Sample


def lock_splits(pairs: Iterable[tuple[int, str]]) -> list[int]:
    """Lock the TaskSplit rows of (task id, split) pairs in primary key order (inside a transaction)."""
    condition = Q()
    for task_id, split in sorted(set(pairs)):
        condition |= Q(task_id=task_id, split=split)
    if not condition:
        return []
    return list(TaskSplit.objects.select_for_update().filter(condition).order_by("pk").values_list("pk", flat=True))


def lock_samples(queryset: QuerySet[Sample]) -> QuerySet[Sample]:
    """`queryset` locked row by row in primary key order (after the splits: see the module doc)."""
    return queryset.select_for_update().order_by("pk")
