"""Forms of the annotator app."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from . import roles
from .models import Task


def members_of(group: str) -> QuerySet:
    """Active users of one role group, by username."""
    return get_user_model().objects.filter(is_active=True, groups__name=group).order_by("username").distinct()


class TaskAssignForm(forms.ModelForm):
    """An admin picks the writer (an annotator) and the reviewer (a reviewer) of a task.

    The model's clean() refuses writer == reviewer; the ModelForm runs it and shows the message.
    """

    class Meta:
        model = Task
        fields = ["writer", "reviewer"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        restrict_assignment_fields(self.fields, self.instance)
        self.fields["writer"].label_from_instance = self.fields["reviewer"].label_from_instance = lambda u: u.username
        self.fields["writer"].empty_label = self.fields["reviewer"].empty_label = "— nobody —"


def assignment_choices(field: str, current_id: int | None = None) -> QuerySet:
    """Who may be offered as a task's writer/reviewer: members of the role's group, plus the one assigned
    now (so a form shows, rather than silently clears, an assignment made before they left the group)."""
    group = roles.ASSIGNMENT_ROLES[field][0]
    users = get_user_model().objects.filter(Q(is_active=True, groups__name=group) | Q(pk=current_id or 0))
    return users.order_by("username").distinct()


def restrict_assignment_fields(fields: dict[str, Any], instance: Task | None) -> None:
    """Offer only group members in the writer/reviewer fields; a refused choice names the missing role."""
    for field in roles.ASSIGNMENT_ROLES:
        if field not in fields:
            continue
        group = roles.ASSIGNMENT_ROLES[field][0]
        fields[field].queryset = assignment_choices(field, getattr(instance, f"{field}_id", None))
        fields[field].error_messages["invalid_choice"] = (
            f"That user is not in the {group} group: only {group}s can be a task's {field}."
        )
