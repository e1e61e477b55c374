"""Forms of the annotator app."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

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
        self.fields["writer"].queryset = members_of(roles.ANNOTATOR)
        self.fields["reviewer"].queryset = members_of(roles.REVIEWER)
        self.fields["writer"].label_from_instance = self.fields["reviewer"].label_from_instance = lambda u: u.username
        self.fields["writer"].empty_label = self.fields["reviewer"].empty_label = "— nobody —"
