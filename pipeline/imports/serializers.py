"""What an API client sends to start an import."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework import serializers
from rest_framework.utils import html

from annotator.models import Split, Task
from pipeline.imports.adapters import adapter_choices


class FormDictField(serializers.DictField):
    """A dict that multipart clients can send too: as JSON text (`-F 'options={"subset": "val2014"}'`),
    as `key=value` texts (`-F files=questions=q.json`, repeatable) or as `files.questions=q.json`.
    Anything else is refused with the accepted forms, never dropped."""

    def get_value(self, dictionary: Any) -> Any:
        if html.is_html_input(dictionary) and self.field_name in dictionary:
            return {"__form_texts__": dictionary.getlist(self.field_name)}
        return super().get_value(dictionary)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict) and "__form_texts__" in data:
            data = self._parse_texts(data["__form_texts__"])
        return super().to_internal_value(data)

    def _parse_texts(self, texts: list[str]) -> dict[str, Any]:
        name = self.field_name
        usage = f'send {name} as JSON text (-F \'{name}={{"key": "value"}}\') or as key=value (-F {name}=key=value)'
        parsed: dict[str, Any] = {}
        for text in texts:
            text = str(text).strip()
            if text.startswith("{"):
                try:
                    value = json.loads(text)
                except ValueError as exc:
                    raise serializers.ValidationError(f"{name} is not valid JSON ({exc}); {usage}.") from exc
                if not isinstance(value, dict):
                    raise serializers.ValidationError(f"{name} must be a JSON object; {usage}.")
                parsed.update(value)
            elif "=" in text and text.split("=", 1)[0].strip():
                key, value = text.split("=", 1)
                parsed[key.strip()] = value
            else:
                raise serializers.ValidationError(f"{name}={text!r} is not understood; {usage}.")
        return parsed


class ImportStartSerializer(serializers.Serializer):
    """What an API client sends to start an import: a server folder, or a file upload (multipart)."""

    adapter = serializers.ChoiceField(choices=[])
    task = serializers.SlugRelatedField(slug_field="slug", queryset=Task.objects.all())
    split = serializers.ChoiceField(choices=Split.choices)
    folder = serializers.CharField(required=False, allow_blank=True, max_length=500)
    upload = serializers.FileField(required=False)
    files = FormDictField(child=serializers.CharField(), required=False)
    options = FormDictField(required=False)
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
