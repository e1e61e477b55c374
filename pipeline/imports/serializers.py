"""What an API client sends to start an import."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from annotator.models import Split, Task
from pipeline.imports.adapters import adapter_choices


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
