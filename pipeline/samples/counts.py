"""The sample counters kept on TaskSplit: the one place that applies deltas and rebuilds them.

A sample counts once in `sample_count`, once in the field of its paraphrase state, once in the field
of its QC state, and in `pending_corrected` when it is both waiting for a paraphrase and corrected by
QC. Every write that adds, removes or moves samples calls one of these functions inside its own
transaction, so the counters commit (or roll back) with the rows: a killed worker leaves neither.
`apply` updates each split's row with `F() + n` in a fixed order (split key), so concurrent writers
queue on the row lock instead of deadlocking, and pages read the numbers in constant time.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Count, F, QuerySet

from annotator.models import TaskSplit
from pipeline.models import ParaphraseState, Sample, SampleQCState

Key = tuple[int, str]  # (task_id, split)
Deltas = dict[Key, Counter]


def fields_of(paraphrase_state: str, qc_state: str) -> list[str]:
    """The counter fields one sample in these states adds 1 to."""
    fields = ["sample_count", f"paraphrase_{paraphrase_state}", f"qc_{qc_state}"]
    if paraphrase_state == ParaphraseState.PENDING and qc_state == SampleQCState.CORRECTED:
        fields.append("pending_corrected")
    return fields


def new_deltas() -> Deltas:
    return defaultdict(Counter)


def add(deltas: Deltas, key: Key, paraphrase_state: str, qc_state: str, n: int = 1) -> None:
    for name in fields_of(str(paraphrase_state), str(qc_state)):
        deltas[key][name] += n


def move(deltas: Deltas, key: Key, old: tuple[str, str], new: tuple[str, str], n: int = 1) -> None:
    """`n` samples of one split went from (paraphrase, qc) state `old` to `new`."""
    if old != new:
        add(deltas, key, *old, n=-n)
        add(deltas, key, *new, n=n)


def apply(deltas: Deltas) -> None:
    """Add the deltas to the splits' counters in the caller's transaction (one UPDATE per split)."""
    with transaction.atomic():
        for key in sorted(deltas):
            changes = {name: F(name) + n for name, n in deltas[key].items() if n}
            if not changes:
                continue
            task_id, split = key
            if not TaskSplit.objects.filter(task_id=task_id, split=split).update(**changes):
                TaskSplit.objects.get_or_create(task_id=task_id, split=split)
                TaskSplit.objects.filter(task_id=task_id, split=split).update(**changes)


def inserted(samples: Iterable[Sample]) -> None:
    """Count samples just inserted (in the caller's transaction)."""
    deltas = new_deltas()
    for sample in samples:
        add(deltas, (sample.task_id, sample.split), sample.paraphrase_state, sample.qc_state)
    apply(deltas)


def insert_samples(samples: list[Sample], batch_size: int = 2000) -> list[Sample]:
    """bulk_create plus counters, in one transaction (fixtures, benchmarks, small writers)."""
    with transaction.atomic():
        created = Sample.objects.bulk_create(samples, batch_size=batch_size)
        inserted(created)
    return created


def set_states(samples: QuerySet[Sample], **values: Any) -> int:
    """UPDATE the samples' paraphrase_state and/or qc_state (and other fields) with their counters.

    The rows are locked first so the old states the deltas subtract are the ones the UPDATE replaces.
    """
    unknown = set(values) - {"paraphrase_state", "qc_state"}
    with transaction.atomic():
        rows = list(samples.select_for_update().order_by("id").values_list("id", "task_id", "split",
                                                                           "paraphrase_state", "qc_state"))  # fmt: skip
        if not rows:
            return 0
        deltas = new_deltas()
        moved: Counter = Counter()
        for _pk, task_id, split, p, q in rows:
            new = (str(values.get("paraphrase_state", p)), str(values.get("qc_state", q)))
            moved[((task_id, split), (p, q), new)] += 1
        for (key, old, new), n in moved.items():
            move(deltas, key, old, new, n)
        ids = [row[0] for row in rows]
        extra = {name: values[name] for name in unknown}
        states = {name: values[name] for name in values if name not in unknown}
        for start in range(0, len(ids), 5000):
            Sample.objects.filter(id__in=ids[start : start + 5000]).update(**states, **extra)
        apply(deltas)
    return len(rows)


def delete_samples(samples: QuerySet[Sample]) -> int:
    """Delete samples (their image links go with them) and take them off the counters."""
    with transaction.atomic():
        groups = _locked_groups(samples)
        deleted, _ = samples.delete()
        deltas = new_deltas()
        for row in groups:
            add(deltas, (row["task_id"], row["split"]), row["paraphrase_state"], row["qc_state"], n=-row["n"])
        apply(deltas)
    return deleted


def _locked_groups(samples: QuerySet[Sample]) -> list[dict[str, Any]]:
    """Lock the rows (FOR UPDATE cannot go with GROUP BY), then count them per split and state pair."""
    counter: Counter = Counter()
    rows = samples.select_for_update().order_by("id").values_list("task_id", "split", "paraphrase_state", "qc_state")
    for row in rows.iterator(chunk_size=5000):
        counter[row] += 1
    return [
        {"task_id": t, "split": s, "paraphrase_state": p, "qc_state": q, "n": n} for (t, s, p, q), n in counter.items()
    ]


def counted(task_split_ids: Iterable[int] | None = None) -> dict[int, dict[str, int]]:
    """The counters as the rows say they should be: split pk → field → count (one grouped query)."""
    splits = TaskSplit.objects.all() if task_split_ids is None else TaskSplit.objects.filter(pk__in=task_split_ids)
    pk_of = {(ts.task_id, ts.split): ts.pk for ts in splits.only("id", "task_id", "split")}
    result = {pk: dict.fromkeys(TaskSplit.COUNTERS, 0) for pk in pk_of.values()}
    rows = Sample.objects.order_by().values("task_id", "split", "paraphrase_state", "qc_state").annotate(n=Count("id"))
    if task_split_ids is not None:
        rows = rows.filter(task_id__in={task_id for task_id, _ in pk_of})
    for row in rows:
        pk = pk_of.get((row["task_id"], row["split"]))
        if pk is None:
            continue
        for name in fields_of(row["paraphrase_state"], row["qc_state"]):
            result[pk][name] += row["n"]
    return result


def stored(task_split_ids: Iterable[int] | None = None) -> dict[int, dict[str, int]]:
    splits = TaskSplit.objects.all() if task_split_ids is None else TaskSplit.objects.filter(pk__in=task_split_ids)
    rows = splits.values("id", *TaskSplit.COUNTERS)
    return {row["id"]: {name: row[name] for name in TaskSplit.COUNTERS} for row in rows}


def recount(task_split_ids: Iterable[int] | None = None, progress: Any = None) -> int:
    """Rebuild the counters from the rows; returns how many splits changed.

    Each split is rewritten under its row lock with a count taken inside the same transaction, so
    writers that commit meanwhile are neither lost nor counted twice. `progress(n)` is called per split.
    """
    ids = list(TaskSplit.objects.order_by("pk").values_list("pk", flat=True)) if task_split_ids is None else list(
        task_split_ids
    )
    changed = 0
    for pk in ids:
        with transaction.atomic():
            split = TaskSplit.objects.select_for_update().filter(pk=pk).first()
            if split is None:
                continue
            counts = dict.fromkeys(TaskSplit.COUNTERS, 0)
            rows = (
                Sample.objects.filter(task_id=split.task_id, split=split.split)
                .order_by()
                .values("paraphrase_state", "qc_state")
                .annotate(n=Count("id"))
            )
            for row in rows:
                for name in fields_of(row["paraphrase_state"], row["qc_state"]):
                    counts[name] += row["n"]
            if any(getattr(split, name) != value for name, value in counts.items()):
                TaskSplit.objects.filter(pk=pk).update(**counts)
                changed += 1
        if progress is not None:
            progress(1)
    return changed
