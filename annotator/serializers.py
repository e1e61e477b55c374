from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from . import roles
from .forms import members_of
from .models import Instruction, Task, TaskSplit


class TaskSplitSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaskSplit
        fields = ["split", "qc_status", "approved_at"]


class RoleMemberField(serializers.SlugRelatedField):
    """A username that must belong to the field's role group; a refusal names the missing role."""

    def __init__(self, field: str, **kwargs: Any) -> None:
        self.assignment = field
        super().__init__(slug_field="username", queryset=members_of(roles.ASSIGNMENT_ROLES[field][0]), **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        user = get_user_model().objects.filter(username=str(data)).first()
        if user is None:
            raise serializers.ValidationError(f"There is no user named {data!r}.")
        problem = roles.assignment_problem(user, self.assignment)
        if problem:
            raise serializers.ValidationError(problem)
        return user


class TaskSerializer(serializers.ModelSerializer):
    # Only people of the right role can be assigned (same choices as the web form).
    writer = RoleMemberField("writer", allow_null=True)
    reviewer = RoleMemberField("reviewer", allow_null=True)
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
        probe = Task(pk=getattr(self.instance, "pk", None), writer=writer, reviewer=reviewer)
        try:
            probe.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return attrs


class InstructionSerializer(serializers.ModelSerializer):
    """One instruction of a pool. Writes go through annotator.pool (the same rules as the web page)."""

    task = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Instruction
        fields = ["id", "task", "text", "position", "author", "created_at", "updated_at"]
        read_only_fields = ["id", "task", "position", "author", "created_at", "updated_at"]


class InstructionCreateSerializer(serializers.Serializer):
    task = serializers.SlugField(help_text="Slug of the task whose pool gets the instruction.")
    text = serializers.CharField(trim_whitespace=False, allow_blank=True)


class InstructionTextSerializer(serializers.Serializer):
    text = serializers.CharField(trim_whitespace=False, allow_blank=True)


class PoolSerializer(serializers.ModelSerializer):
    """A task's pool: its status, the return comment, the instructions in order."""

    writer = serializers.SlugRelatedField(slug_field="username", read_only=True)
    instructions = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = ["slug", "name", "language", "writer", "pool_status", "return_comment", "instructions"]
        read_only_fields = fields

    def get_instructions(self, task: Task) -> list[dict[str, Any]]:
        return InstructionSerializer(
            task.instructions.select_related("author").order_by("position", "id"), many=True
        ).data


class ReorderSerializer(serializers.Serializer):
    order = serializers.ListField(child=serializers.IntegerField(), help_text="Every instruction id, in the new order.")


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(allow_blank=True, required=False, default="")
