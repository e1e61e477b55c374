"""Instruction statistics by the method of the paper's Table 2.

* Tokens per instruction: words (whitespace-separated) for space-separated languages; characters
  (non-whitespace) for Chinese and Japanese, which are written without spaces.
* Edit distance: character-level Levenshtein distance (insert/delete/substitute, each cost 1) between
  two instructions, computed with rapidfuzz. "Within task" averages all pairs of instructions of the
  same task; "across tasks" all pairs whose two instructions belong to different tasks.
* Spread: mean ± sample standard deviation (n - 1).

Pairwise distances are computed block by block (rapidfuzz.process.cdist), accumulating sums and sums of
squares, so memory stays at one block of rows whatever the number of instructions.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

CHARACTER_LANGUAGES = frozenset({"zh", "ja"})
NEAR_DUPLICATE_SIMILARITY = 0.8
CHINESE_SHARE_EXPECTED = 0.5
BLOCK_ROWS = 64


def count_tokens(text: str, language: str) -> int:
    """Words for space-separated languages; non-whitespace characters for Chinese and Japanese."""
    if language in CHARACTER_LANGUAGES:
        return sum(1 for ch in text if not ch.isspace())
    return len(text.split())


def edit_distance(a: str, b: str) -> int:
    """Character Levenshtein distance."""
    return Levenshtein.distance(a, b)


def similarity(a: str, b: str) -> float:
    """1 - distance / length of the longer text, on case- and whitespace-folded text."""
    return Levenshtein.normalized_similarity(_fold(a), _fold(b))


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def han_share(text: str) -> float:
    """Share of Han characters among the letters of `text` (0 when it has no letters)."""
    letters = [ch for ch in text if unicodedata.category(ch).startswith("L")]
    if not letters:
        return 0.0
    han = sum(1 for ch in letters if unicodedata.name(ch, "").startswith("CJK UNIFIED IDEOGRAPH"))
    return han / len(letters)


@dataclass
class Moments:
    """Running count, sum and sum of squares, for mean ± sd without keeping the values."""

    n: int = 0
    total: float = 0.0
    squares: float = 0.0

    def add_values(self, values: Iterable[float]) -> None:
        for value in values:
            self.n += 1
            self.total += value
            self.squares += value * value

    def add_array(self, values: np.ndarray) -> None:
        if values.size:
            self.n += int(values.size)
            as_float = values.astype(np.float64)
            self.total += float(as_float.sum())
            self.squares += float((as_float * as_float).sum())

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def sd(self) -> float | None:
        if self.n < 2:
            return None
        variance = (self.squares - self.total * self.total / self.n) / (self.n - 1)
        return math.sqrt(max(variance, 0.0))

    def as_dict(self) -> dict[str, float | int | None]:
        return {"n": self.n, "mean": _round(self.mean), "sd": _round(self.sd)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass
class Row:
    """One line of the statistics table: a group, a task, or the whole set."""

    key: str
    label: str
    group: str = ""
    language: str = ""
    instructions: int = 0
    tokens: Moments = field(default_factory=Moments)
    within: Moments = field(default_factory=Moments)
    across: Moments = field(default_factory=Moments)

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "label": self.label,
            "group": self.group,
            "language": self.language,
            "instructions": self.instructions,
            "tokens": self.tokens.as_dict(),
            "within": self.within.as_dict(),
            "across": self.across.as_dict(),
        }


@dataclass(frozen=True)
class Item:
    """One instruction as the statistics see it."""

    task: str
    group: str
    language: str
    text: str


@dataclass
class Report:
    overall: Row
    groups: list[Row]
    tasks: list[Row]


def instruction_report(
    items: Sequence[Item],
    group_labels: dict[str, str] | None = None,
    task_labels: dict[str, str] | None = None,
    block_rows: int = BLOCK_ROWS,
) -> Report:
    """Table 2 statistics overall, per group and per task.

    A group's (or task's) "across tasks" figure covers the pairs with one instruction in that group
    (task) and the other in any other task; the overall figure covers every pair from two tasks.
    """
    group_labels = group_labels or {}
    task_labels = task_labels or {}
    overall = Row("all", "All instructions")
    groups: dict[str, Row] = {}
    tasks: dict[str, Row] = {}
    for item in items:
        group = groups.setdefault(item.group, Row(item.group, group_labels.get(item.group, item.group)))
        task = tasks.setdefault(
            item.task, Row(item.task, task_labels.get(item.task, item.task), item.group, item.language)
        )
        tokens = count_tokens(item.text, item.language)
        for row in (overall, group, task):
            row.instructions += 1
            row.tokens.add_values([tokens])

    texts = [item.text for item in items]
    task_codes = np.array(_codes([item.task for item in items]), dtype=np.int64)
    group_codes = np.array(_codes([item.group for item in items]), dtype=np.int64)
    task_rows = list(tasks.values())
    group_rows = list(groups.values())
    # _codes numbers keys in first-seen order, as the dicts above do, so code k is row k.

    sums = _PairSums(len(task_rows), len(group_rows))
    n = len(texts)
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        chunk = texts[start:stop]
        # Each unordered pair once: the upper triangle of the chunk against itself (rapidfuzz computes a
        # symmetric matrix only once when both arguments are the same list), then the chunk against every
        # later instruction.
        square = process.cdist(chunk, chunk, scorer=Levenshtein.distance, dtype=np.int32, workers=1)
        upper_r, upper_c = np.triu_indices(stop - start, k=1)
        parts = [(square[upper_r, upper_c], upper_r + start, upper_c + start)]
        if stop < n:
            rect = process.cdist(chunk, texts[stop:], scorer=Levenshtein.distance, dtype=np.int32, workers=1)
            rows, cols = np.indices(rect.shape)
            parts.append((rect.ravel(), rows.ravel() + start, cols.ravel() + stop))
        for d, rows, cols in parts:
            sums.add(d.astype(np.float64), task_codes[rows], task_codes[cols], group_codes[rows], group_codes[cols])
    sums.write(overall, task_rows, group_rows)
    return Report(overall=overall, groups=group_rows, tasks=task_rows)


class _PairSums:
    """Per-task and per-group count, sum and sum of squares of pair distances, accumulated with bincount."""

    def __init__(self, tasks: int, groups: int) -> None:
        self.tasks, self.groups = tasks, groups
        zeros = {"n": 0.0, "total": 0.0, "squares": 0.0}
        self.overall = {"within": dict(zeros), "across": dict(zeros)}
        self.by_task = {kind: np.zeros((3, tasks)) for kind in ("within", "across")}
        self.by_group = {kind: np.zeros((3, groups)) for kind in ("within", "across")}

    @staticmethod
    def _bin(target: np.ndarray, codes: np.ndarray, d: np.ndarray, size: int) -> None:
        target[0] += np.bincount(codes, minlength=size)
        target[1] += np.bincount(codes, weights=d, minlength=size)
        target[2] += np.bincount(codes, weights=d * d, minlength=size)

    def add(self, d: np.ndarray, task_a: np.ndarray, task_b: np.ndarray, group_a: np.ndarray, group_b: np.ndarray):
        same = task_a == task_b
        for kind, mask in (("within", same), ("across", ~same)):
            values = d[mask]
            self.overall[kind]["n"] += values.size
            self.overall[kind]["total"] += float(values.sum())
            self.overall[kind]["squares"] += float((values * values).sum())
        # A within-task pair counts for its task and group once.
        self._bin(self.by_task["within"], task_a[same], d[same], self.tasks)
        self._bin(self.by_group["within"], group_a[same], d[same], self.groups)
        # A cross-task pair counts for both tasks, and for both groups unless they are the same group.
        across = ~same
        self._bin(self.by_task["across"], task_a[across], d[across], self.tasks)
        self._bin(self.by_task["across"], task_b[across], d[across], self.tasks)
        self._bin(self.by_group["across"], group_a[across], d[across], self.groups)
        other_group = across & (group_a != group_b)
        self._bin(self.by_group["across"], group_b[other_group], d[other_group], self.groups)

    def write(self, overall: Row, task_rows: list[Row], group_rows: list[Row]) -> None:
        for kind in ("within", "across"):
            values = self.overall[kind]
            target: Moments = getattr(overall, kind)
            target.n, target.total, target.squares = int(values["n"]), values["total"], values["squares"]
            for rows, table in ((task_rows, self.by_task[kind]), (group_rows, self.by_group[kind])):
                for index, row in enumerate(rows):
                    moments: Moments = getattr(row, kind)
                    moments.n = int(table[0, index])
                    moments.total = float(table[1, index])
                    moments.squares = float(table[2, index])


def _codes(keys: Sequence[str]) -> list[int]:
    seen: dict[str, int] = {}
    return [seen.setdefault(key, len(seen)) for key in keys]


@dataclass(frozen=True)
class PoolEntry:
    """An instruction of a pool as the live editor sees it: `number` is its place in the list (1-based)."""

    number: int
    text: str
    pk: int | None = None


def pool_summary(entries: Sequence[PoolEntry], language: str) -> dict[str, object]:
    """What the editor shows under the pool: per-instruction tokens, mean length, mean pairwise distance."""
    tokens = Moments()
    per_entry = []
    for entry in entries:
        count = count_tokens(entry.text, language)
        tokens.add_values([count])
        per_entry.append({"number": entry.number, "pk": entry.pk, "tokens": count})
    distances = Moments()
    texts = [entry.text for entry in entries]
    if len(texts) > 1:
        matrix = process.cdist(texts, texts, scorer=Levenshtein.distance, dtype=np.int32, workers=1)
        distances.add_array(matrix[np.triu_indices(len(texts), k=1)])
    return {
        "count": len(entries),
        "instructions": per_entry,
        "tokens": tokens.as_dict(),
        "edit_distance": distances.as_dict(),
        "token_unit": "characters" if language in CHARACTER_LANGUAGES else "words",
    }


def draft_warnings(
    draft: str, others: Sequence[PoolEntry], language: str, threshold: float = NEAR_DUPLICATE_SIMILARITY
) -> list[dict[str, object]]:
    """Warnings about a draft instruction: duplicates, near-duplicates (named, with similarity), language."""
    warnings: list[dict[str, object]] = []
    if not draft.strip():
        return warnings
    folded = _fold(draft)
    for entry in others:
        if _fold(entry.text) == folded:
            warnings.append(
                {
                    "kind": "duplicate",
                    "number": entry.number,
                    "similarity": 1.0,
                    "message": f"Same as #{entry.number} “{_clip(entry.text)}” once case and spaces are ignored.",
                }
            )
            continue
        score = similarity(draft, entry.text)
        if score >= threshold:
            warnings.append(
                {
                    "kind": "near-duplicate",
                    "number": entry.number,
                    "similarity": round(score, 3),
                    "message": f"{score:.0%} similar to #{entry.number} “{_clip(entry.text)}”; reword it.",
                }
            )
    if language == "zh" and han_share(draft) < CHINESE_SHARE_EXPECTED:
        warnings.append(
            {
                "kind": "language",
                "message": "This is a Chinese task: its instructions are expected in Chinese, and this one is not.",
            }
        )
    return warnings


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def live_stats(entries: Sequence[PoolEntry], language: str, draft: str = "", editing: int | None = None) -> dict:
    """The pool as it would be with `draft` saved (replacing instruction `editing`, or added at the end),
    with the draft's own token count and warnings."""
    draft = draft.strip()
    others = [entry for entry in entries if editing is None or entry.pk != editing]
    warnings = draft_warnings(draft, others, language)
    savable = draft and not any(w["kind"] == "duplicate" for w in warnings)  # a duplicate would be refused
    if editing is not None and savable:
        pool = [PoolEntry(e.number, draft, e.pk) if e.pk == editing else e for e in entries]
    elif savable:
        pool = [*entries, PoolEntry(len(entries) + 1, draft)]
    else:
        pool = list(entries)
    summary = pool_summary(pool, language)
    # The count is what is saved (the page's "n / 10"); a draft is not an instruction until it is saved.
    summary["count_with_draft"] = summary["count"]
    summary["count"] = len(entries)
    summary["draft"] = {"tokens": count_tokens(draft, language), "warnings": warnings}
    return summary


def pool_warnings(entries: Sequence[PoolEntry], language: str) -> dict[int, list[dict[str, object]]]:
    """Warnings for each saved instruction against the ones before it (so a pair is flagged once)."""
    return {entry.number: draft_warnings(entry.text, entries[: entry.number - 1], language) for entry in entries}


@dataclass
class Load:
    """Everything in the database that the statistics page needs, as plain items."""

    items: list[Item]
    group_labels: dict[str, str]
    task_labels: dict[str, str]


def load_items() -> Load:
    """All instructions with their task's slug, group and language, in a single query."""
    from .models import Group, Instruction, Task

    rows = Instruction.objects.order_by("task__group", "task__slug", "position", "id").values_list(
        "task__slug", "task__group", "task__language", "text"
    )
    items = [Item(task=slug, group=group, language=language, text=text) for slug, group, language, text in rows]
    used = {item.task for item in items}
    task_labels = dict(Task.objects.filter(slug__in=used).values_list("slug", "name"))
    return Load(items=items, group_labels=dict(Group.choices), task_labels=task_labels)
