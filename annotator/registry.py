"""The 40 M3IT tasks (paper Table 7, published layout) from `m3it_tasks.json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.db import transaction

from .models import Split, Task, TaskSplit

REGISTRY_FILE = Path(__file__).with_name("m3it_tasks.json")


def read_registry(path: Path = REGISTRY_FILE) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))


@transaction.atomic
def load_tasks(entries: list[dict[str, Any]] | None = None) -> tuple[int, int]:
    """Create or update the registry's tasks and their three splits. Returns (created, updated).

    Idempotent: the registry's facts are refreshed; assignments and pool state are left alone.
    """
    created = updated = 0
    for entry in entries if entries is not None else read_registry():
        train, val, test = entry["counts"]
        defaults = {
            "name": entry["name"],
            "group": entry["group"],
            "folder": entry["folder"],
            "task_dir": entry["task_dir"],
            "modality": entry["modality"],
            "language": entry["language"],
            "source": entry.get("source", ""),
            "licence": entry["licence"],
            "held_in": entry["held_in"],
            "translated": entry["translated"],
            "published_train": train,
            "published_val": val,
            "published_test": test,
        }
        if entry.get("description"):
            defaults["description"] = entry["description"]
        task, was_created = Task.objects.update_or_create(slug=entry["slug"], defaults=defaults)
        created += was_created
        updated += not was_created
        for split in Split.values:
            TaskSplit.objects.get_or_create(task=task, split=split)
    return created, updated
