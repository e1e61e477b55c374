from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from . import roles
from .forms import members_of
from .models import Task, TaskSplit


class TaskSplitSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaskSplit
        fields = ["split", "qc_status", "approved_at"]


class TaskSerializer(serializers.ModelSerializer):
    # Only people of the right role can be assigned (same choices as the web form).
    writer = serializers.SlugRelatedField(slug_field="username", queryset=members_of(roles.ANNOTATOR), allow_null=True)
    reviewer = serializers.SlugRelatedField(slug_field="username", queryset=members_of(roles.REVIEWER), allow_null=True)
    splits = TaskSplitSerializer(many=True, read_only=True)

    class Meta:
        model = Task
        fields = [
            "slug",
            "name",
            "group",
            "folder",
            "task_dir",
            "modality",
            "language",
            "source",
            "licence",
            "held_in",
            "translated",
            "published_train",
            "published_val",
            "published_test",
            "writer",
            "reviewer",
            "pool_status",
            "splits",
        ]
        read_only_fields = [f for f in fields if f not in ("writer", "reviewer")]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        writer = attrs.get("writer", getattr(self.instance, "writer", None))
        reviewer = attrs.get("reviewer", getattr(self.instance, "reviewer", None))
        probe = Task(writer=writer, reviewer=reviewer)
        try:
            probe.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return attrs
