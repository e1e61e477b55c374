"""The Job as the API shows it (every step's job pages and endpoints use this)."""

from __future__ import annotations

from rest_framework import serializers

from pipeline.models import Job


class JobSerializer(serializers.ModelSerializer):
    percent = serializers.FloatField(read_only=True, allow_null=True)
    message = serializers.CharField(source="display_message", read_only=True, help_text="In the reader's language.")
    warning = serializers.CharField(read_only=True)
    display_status = serializers.CharField(read_only=True)
    created_by = serializers.StringRelatedField()
    task = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "display_status",
            "warning",
            "queue",
            "params",
            "done",
            "total",
            "percent",
            "counters",
            "message",
            "result",
            "error",
            "attempts",
            "cancel_requested",
            "task",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
        ]
        read_only_fields = fields
