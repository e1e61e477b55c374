from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from rest_framework import serializers

from annotator.models import Split, Task

from .adapters import adapter_choices
from .models import Job, Sample, SampleImage


class JobSerializer(serializers.ModelSerializer):
    percent = serializers.FloatField(read_only=True, allow_null=True)
    created_by = serializers.StringRelatedField()
    task = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
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


class ImportStartSerializer(serializers.Serializer):
    """What an API client sends to start an import: a server folder, or a file upload (multipart)."""

    adapter = serializers.ChoiceField(choices=[])
    task = serializers.SlugRelatedField(slug_field="slug", queryset=Task.objects.all())
    split = serializers.ChoiceField(choices=Split.choices)
    folder = serializers.CharField(required=False, allow_blank=True, max_length=500)
    upload = serializers.FileField(required=False)
    files = serializers.DictField(child=serializers.CharField(), required=False)
    options = serializers.DictField(required=False)
    max_rejected = serializers.IntegerField(min_value=0, default=0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["adapter"].choices = adapter_choices()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("upload")) == bool(attrs.get("folder")):
            raise serializers.ValidationError("Give either an upload or a server folder.")
        upload = attrs.get("upload")
        if upload and upload.size > settings.IMPORT_UPLOAD_MAX_BYTES:
            raise serializers.ValidationError({"upload": f"larger than {settings.IMPORT_UPLOAD_MAX_BYTES} bytes"})
        return attrs

    def params(self) -> dict[str, Any]:
        data = self.validated_data
        return {
            "adapter": data["adapter"],
            "task": data["task"].slug,
            "split": data["split"],
            "folder": data.get("folder", ""),
            "files": data.get("files", {}),
            "options": data.get("options", {}),
            "max_rejected": data["max_rejected"],
        }


class SampleImageSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    sha256 = serializers.CharField(source="image.sha256")
    width = serializers.IntegerField(source="image.width")
    height = serializers.IntegerField(source="image.height")
    derived_from = serializers.IntegerField(source="image.derived_from_id", allow_null=True)
    url = serializers.SerializerMethodField()

    def get_url(self, link: SampleImage) -> str:
        return reverse("image-file", args=[link.image.sha256])


class SampleSerializer(serializers.ModelSerializer):
    task = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    instruction = serializers.CharField(source="instruction.text", default=None, read_only=True)
    images = SampleImageSerializer(source="sample_images", many=True, read_only=True)

    class Meta:
        model = Sample
        fields = [
            "id",
            "task",
            "split",
            "source_id",
            "instruction",
            "instruction_seed",
            "inputs",
            "outputs",
            "original_output",
            "meta",
            "paraphrase_state",
            "qc_state",
            "images",
            "import_job",
            "created_at",
        ]
        read_only_fields = fields
