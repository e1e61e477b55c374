"""Who may see which tasks. Every Stage I view and API endpoint filters through here."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from . import roles
from .models import Task


def visible_tasks(user: Any) -> QuerySet[Task]:
    """Admins see every task; others only the tasks they write or review (the rest is 404)."""
    tasks = Task.objects.select_related("writer", "reviewer")
    if roles.is_admin(user):
        return tasks
    if not user.is_authenticated:
        return tasks.none()
    return tasks.filter(Q(writer=user) | Q(reviewer=user))


def can_write(user: Any, task: Task) -> bool:
    """Only the task's writer edits its pool (and only while it is not locked: see annotator.pool)."""
    return bool(user.is_authenticated and task.writer_id == user.pk)
