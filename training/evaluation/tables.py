"""Result tables in the shape of the paper's Tables 4-6 (the published numbers beside ours), a table
of every task and group evaluated, and their CSV and Markdown forms."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

PUBLISHED = Path(__file__).with_name("published.json")


@cache
def published() -> dict[str, Any]:
    return json.loads(PUBLISHED.read_text())


@dataclass
class Row:
    label: str
    values: list[float | None]
    ours: bool = False
    link: str = ""


@dataclass
class Table:
    id: str
    title: str
    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    note: str = ""

    def has_ours(self) -> bool:
        return any(r.ours and any(v is not None for v in r.values) for r in self.rows)


def _score(evaluation: Any, task: str) -> float | None:
    entry = (evaluation.results.get("tasks") or {}).get(task)
    return None if entry is None else round(100 * entry["rouge_l"], 1)


def paper_tables(evaluations: Sequence[Any]) -> list[Table]:
    """Tables 4-6: the paper's rows, then one row per evaluation (blank where a task was not evaluated)."""
    tables = []
    for spec in published()["tables"]:
        table = Table(spec["id"], spec["title"] + " (ROUGE-L)", spec["labels"], note=published()["source"])
        table.rows = [Row(f"{label} (paper)", list(values)) for label, values in spec["rows"]]
        for ev in evaluations:
            table.rows.append(Row(f"#{ev.pk} {ev.name}", [_score(ev, t) for t in spec["tasks"]], ours=True))
        tables.append(table)
    return tables


def task_table(evaluations: Sequence[Any]) -> Table:
    """Every task any of the evaluations scored: one column per evaluation, tasks sorted by group."""
    tasks: dict[str, str] = {}
    for ev in evaluations:
        for task, entry in (ev.results.get("tasks") or {}).items():
            tasks.setdefault(task, entry.get("group", "other"))
    ordered = sorted(tasks, key=lambda t: (tasks[t], t))
    table = Table("tasks", "ROUGE-L per task", ["group", *[f"#{ev.pk} {ev.name}" for ev in evaluations]])
    for task in ordered:
        table.rows.append(Row(task, [tasks[task], *[_score(ev, task) for ev in evaluations]]))  # type: ignore[list-item]
    return table


def group_table(evaluations: Sequence[Any]) -> Table:
    groups = sorted({g for ev in evaluations for g in (ev.results.get("groups") or {})})
    table = Table("groups", "ROUGE-L per group (mean of task means)", [*groups, "overall"])
    for ev in evaluations:
        values = [ev.results.get("groups", {}).get(g) for g in groups] + [ev.results.get("overall")]
        table.rows.append(
            Row(f"#{ev.pk} {ev.name}", [None if v is None else round(100 * v, 1) for v in values], ours=True)
        )
    return table


def all_tables(evaluations: Sequence[Any]) -> list[Table]:
    return [*paper_tables(evaluations), task_table(evaluations), group_table(evaluations)]


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["model" if table.id not in ("tasks",) else "task", *table.columns])
    for row in table.rows:
        writer.writerow([row.label, *["" if v is None else v for v in row.values]])
    return out.getvalue()


def to_markdown(table: Table) -> str:
    first = "task" if table.id == "tasks" else "model"
    lines = [f"**{table.title}**", "", "| " + " | ".join([first, *table.columns]) + " |"]
    lines.append("|" + "---|" * (len(table.columns) + 1))
    for row in table.rows:
        label = row.label.replace("|", "\\|")
        lines.append("| " + " | ".join([label, *[_cell(v).replace("|", "\\|") for v in row.values]]) + " |")
    if table.note:
        lines += ["", f"Published numbers: {table.note}."]
    return "\n".join(lines) + "\n"
