"""Who may see which instruction pools. Every Stage I view and API endpoint filters through here.

The task registry itself (facts, samples) is open to everyone signed in; a task's instruction pool,
its history and every action on it are for its writer, its reviewer and admins: to anyone else the
pool's URLs are 404, as if the task had no pool."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from . import roles
from .models import Task


def pool_tasks(user: Any) -> QuerySet[Task]:
    """The tasks whose pool `user` may read: admins all; others those they write or review."""
    tasks = Task.objects.select_related("writer", "reviewer")
    if roles.is_admin(user):
        return tasks
    if not user.is_authenticated:
        return tasks.none()
    return tasks.filter(Q(writer=user) | Q(reviewer=user))


def can_write(user: Any, task: Task) -> bool:
    """Only the task's writer edits its pool (and only while it is not locked: see annotator.pool)."""
    return bool(user.is_authenticated and task.writer_id == user.pk)


def can_read_pool(user: Any, task: Task) -> bool:
    return roles.is_admin(user) or (user.is_authenticated and user.pk in (task.writer_id, task.reviewer_id))
