"""Figures for the QC dashboard and the per-reviewer view, in a fixed number of queries whatever the size."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model

from annotator.models import QCStatus, Split, Task, TaskSplit

from .agreement import Agreement, agreement
from .models import ProblemTag, Review, ReviewItem, ReviewRole, Verdict

TAGS = tuple(ProblemTag.values)


def agreement_label(verdict: str) -> str:
    """Agreement compares what each reviewer found: the sample was fine, or it had a problem
    (rejected, or corrected in place by the first reviewer)."""
    return "ok" if verdict == Verdict.APPROVED else "problem"


@dataclass
class SplitCell:
    split: TaskSplit
    review: Review | None = None
    second: Review | None = None
    decided: int = 0
    total: int = 0
    tags: dict[str, int] = field(default_factory=dict)
    agreement: Agreement | None = None
    rounds: int = 0
    samples: int = 0

    @property
    def date(self) -> datetime | None:
        if self.split.approved_at:
            return self.split.approved_at
        if self.review:
            return self.review.decided_at or self.review.created_at
        return None

    @property
    def problem_count(self) -> int:
        return sum(self.tags.values())


@dataclass
class TaskRow:
    task: Task
    cells: list[SplitCell | None]


def _items_by_review(review_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = ReviewItem.objects.filter(review_id__in=review_ids).values("review_id", "sample_id", "verdict", "problems")
    for row in rows:
        grouped[row["review_id"]].append(row)
    return grouped


def split_cells(splits: list[TaskSplit], reviews: list[Review]) -> dict[int, SplitCell]:
    """One cell per split: its latest primary review, a second review of that round, progress, tags, agreement."""
    cells = {s.pk: SplitCell(split=s) for s in splits}
    by_split: dict[int, list[Review]] = defaultdict(list)
    for review in reviews:
        by_split[review.task_split_id].append(review)
    items = _items_by_review([r.pk for r in reviews])
    for split_id, split_reviews in by_split.items():
        cell = cells.get(split_id)
        if cell is None:
            continue
        primaries = sorted((r for r in split_reviews if r.role == ReviewRole.PRIMARY), key=lambda r: r.round)
        cell.rounds = len(primaries)
        tags: Counter[str] = Counter()
        for review in primaries:
            for row in items[review.pk]:
                tags.update(row["problems"])
        cell.tags = {tag: tags[tag] for tag in TAGS}
        if not primaries:
            continue
        cell.review = primaries[-1]
        latest = items[cell.review.pk]
        cell.total = len(latest)
        cell.decided = sum(1 for row in latest if row["verdict"] != Verdict.PENDING)
        cell.second = next(
            (r for r in split_reviews if r.role == ReviewRole.SECOND and r.round == cell.review.round), None
        )
        if cell.second:
            cell.agreement = agreement(
                {r["sample_id"]: agreement_label(r["verdict"]) for r in latest if r["verdict"] != Verdict.PENDING},
                {
                    r["sample_id"]: agreement_label(r["verdict"])
                    for r in items[cell.second.pk]
                    if r["verdict"] != Verdict.PENDING
                },
            )
    return cells


def dashboard(reviewer_id: int | None = None) -> dict[str, Any]:
    """Tasks by splits with status, reviewer, date, problem counts by tag and agreement; totals for charts."""
    tasks = list(Task.objects.select_related("reviewer").order_by("group", "slug"))
    splits = list(TaskSplit.objects.select_related("approved_by"))
    reviews = list(Review.objects.select_related("reviewer").order_by("round", "id"))
    if reviewer_id is not None:
        splits = [s for s in splits if any(r.task_split_id == s.pk and r.reviewer_id == reviewer_id for r in reviews)]
    cells = split_cells(splits, reviews)
    for cell in cells.values():
        cell.samples = cell.split.sample_count  # the split's counter (pipeline.samples.counts), not a COUNT
    by_task: dict[int, dict[str, SplitCell]] = defaultdict(dict)
    for cell in cells.values():
        by_task[cell.split.task_id][cell.split.split] = cell
    rows = [
        TaskRow(task=task, cells=[by_task[task.pk].get(split) for split in Split.values])
        for task in tasks
        if task.pk in by_task
    ]
    status_counts = Counter(cell.split.qc_status for cell in cells.values())
    tag_totals = Counter()
    for cell in cells.values():
        tag_totals.update(cell.tags)
    total = sum(status_counts.values()) or 1
    statuses = [
        {"status": s.value, "label": s.label, "count": status_counts[s], "percent": 100 * status_counts[s] / total}
        for s in QCStatus
    ]
    tag_max = max(tag_totals.values(), default=0) or 1
    tags = [{"tag": t, "count": tag_totals[t], "percent": 100 * tag_totals[t] / tag_max} for t in TAGS]
    return {"rows": rows, "splits": Split.values, "statuses": statuses, "tags": tags, "split_total": len(cells)}


@dataclass
class ReviewerRow:
    user: Any
    reviews: Counter = field(default_factory=Counter)
    verdicts: Counter = field(default_factory=Counter)
    tags: Counter = field(default_factory=Counter)
    kappas: list[float] = field(default_factory=list)

    @property
    def mean_kappa(self) -> float | None:
        return sum(self.kappas) / len(self.kappas) if self.kappas else None

    @property
    def tag_list(self) -> list[tuple[str, int]]:
        return [(t, self.tags[t]) for t in TAGS]


def reviewer_stats() -> list[ReviewerRow]:
    """Per reviewer: reviews by status, samples by verdict, problems by tag, agreement where a second looked."""
    reviews = list(Review.objects.select_related("reviewer").order_by("round", "id"))
    items = _items_by_review([r.pk for r in reviews])
    rows: dict[int, ReviewerRow] = {}
    for user in get_user_model().objects.filter(groups__name="reviewer").order_by("username"):
        rows[user.pk] = ReviewerRow(user=user)
    pairs: dict[tuple[int, int], dict[str, Review]] = defaultdict(dict)
    for review in reviews:
        row = rows.setdefault(review.reviewer_id, ReviewerRow(user=review.reviewer))
        row.reviews[review.status] += 1
        row.reviews["total"] += 1
        for item in items[review.pk]:
            row.verdicts[item["verdict"]] += 1
            row.tags.update(item["problems"])
        pairs[(review.task_split_id, review.round)][review.role] = review
    for pair in pairs.values():
        if ReviewRole.PRIMARY in pair and ReviewRole.SECOND in pair:
            first, second = pair[ReviewRole.PRIMARY], pair[ReviewRole.SECOND]
            result = agreement(
                {r["sample_id"]: agreement_label(r["verdict"]) for r in items[first.pk] if r["verdict"] != "pending"},
                {r["sample_id"]: agreement_label(r["verdict"]) for r in items[second.pk] if r["verdict"] != "pending"},
            )
            if result.kappa is not None:
                rows[first.reviewer_id].kappas.append(result.kappa)
                rows[second.reviewer_id].kappas.append(result.kappa)
    return list(rows.values())
