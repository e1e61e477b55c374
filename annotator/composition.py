"""The dataset's composition by task group, for the tasks page's chart (paper Table 3 shape)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .models import Group, Task

SPLIT_COLOURS = {"train": "#2563eb", "val": "#f59e0b", "test": "#10b981"}


@dataclass
class GroupRow:
    key: str
    label: str
    tasks: list[Task] = field(default_factory=list)
    train: int = 0
    val: int = 0
    test: int = 0

    @property
    def total(self) -> int:
        return self.train + self.val + self.test


@dataclass
class Bar:
    label: str
    y: int
    segments: list[dict]
    total: int


def group_rows(tasks: list[Task]) -> list[GroupRow]:
    rows = {key: GroupRow(key, label) for key, label in Group.choices}
    for task in tasks:
        row = rows[task.group]
        row.tasks.append(task)
        row.train += task.published_train
        row.val += task.published_val
        row.test += task.published_test
    return [row for row in rows.values() if row.tasks]


def composition_bars(rows: list[GroupRow], width: int = 560, row_height: int = 26) -> list[Bar]:
    """Horizontal stacked bars (train/val/test) scaled to the largest group."""
    biggest = max((row.total for row in rows), default=0) or 1
    bars = []
    for index, row in enumerate(rows):
        x = 0.0
        segments = []
        for split in ("train", "val", "test"):
            value = getattr(row, split)
            w = width * value / biggest
            segments.append(
                {"split": split, "x": round(x, 1), "w": round(w, 1), "value": value, "colour": SPLIT_COLOURS[split]}
            )
            x += w
        bars.append(Bar(label=row.label, y=index * row_height, segments=segments, total=row.total))
    return bars
