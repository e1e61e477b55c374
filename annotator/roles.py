"""The three roles: annotator and reviewer are Django groups; admin is `is_staff`."""

from __future__ import annotations

from typing import Any

ANNOTATOR = "annotator"
REVIEWER = "reviewer"
GROUPS = (ANNOTATOR, REVIEWER)


def _in_group(user: Any, name: str) -> bool:
    if not user.is_authenticated:
        return False
    cached = getattr(user, "_m3it_groups", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._m3it_groups = cached
    return name in cached


def is_admin(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def is_annotator(user: Any) -> bool:
    return _in_group(user, ANNOTATOR)


def is_reviewer(user: Any) -> bool:
    return _in_group(user, REVIEWER)


def roles_of(user: Any) -> list[str]:
    roles = [name for name in GROUPS if _in_group(user, name)]
    if is_admin(user):
        roles.append("admin")
    return roles


# The group each assignable task field needs, and what the person does in it (for messages).
ASSIGNMENT_ROLES = {"writer": (ANNOTATOR, "write a task's instructions"), "reviewer": (REVIEWER, "review a task")}


def assignment_problem(user: Any, field: str) -> str | None:
    """Why `user` cannot be the task's `field` ("writer" or "reviewer"), naming the missing role; None if fine."""
    if user is None:
        return None
    group, work = ASSIGNMENT_ROLES[field]
    if not user.is_active:
        return f"{user.username} is not active and cannot {work}."
    if not _in_group(user, group):
        return (
            f"{user.username} is not in the {group} group: only {group}s {work.replace('a task', 'tasks')}. "
            f"Add them to the {group} group first (Django admin → Users)."
        )
    return None
