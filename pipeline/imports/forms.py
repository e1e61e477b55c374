"""The import form: adapter, task, split, upload or server folder, file names and options."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.db.models import Count

from annotator.models import Split, Task
from pipeline.imports.adapters import ADAPTERS, adapter_choices


def adapter_placeholders() -> dict[str, dict[str, str]]:
    """Per adapter, example text for the files and options boxes: its own roles and options, not VQA's."""
    examples = {}
    for name, adapter in ADAPTERS.items():
        files = "\n".join(f"{spec.role}={spec.default}" for spec in adapter.files if spec.kind != "folder")
        options = json.dumps({o.name: o.default for o in adapter.options}) if adapter.options else "(no options)"
        examples[name] = {"files": files or "(no files to name)", "options": options}
    return examples


def parse_pairs(text: str) -> dict[str, str]:
    """ "role=path" lines → {"role": "path"}; blank lines ignored."""
    pairs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise forms.ValidationError(f"line {number} must look like role=path")
        pairs[key.strip()] = value.strip()
    return pairs


class ImportForm(forms.Form):
    adapter = forms.ChoiceField(choices=adapter_choices)
    task = forms.ModelChoiceField(
        queryset=Task.objects.annotate(pool_size=Count("instructions")).order_by("slug"),
        to_field_name="slug",
        help_text="A task without instructions yet can be imported: its samples get one drawn as soon as "
        "its pool gains instructions.",
    )
    split = forms.ChoiceField(choices=Split.choices)
    upload = forms.FileField(
        required=False,
        help_text="One file (JSON, JSONL, CSV) or a .zip with files and images folders; "
        f"up to {settings.IMPORT_UPLOAD_MAX_BYTES // (1024 * 1024)} MB.",
    )
    folder = forms.CharField(
        required=False,
        max_length=500,
        help_text="Or a folder on the server, relative to the import folder.",
    )
    files = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "questions=v2_OpenEnded_mscoco_val2014_questions.json"}),
        help_text="Optional role=path lines; the adapter's default names are used otherwise.",
    )
    options = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": '{"answer_mode": "choice"}'}),
        help_text="Optional adapter options as a JSON object.",
    )
    max_rejected = forms.IntegerField(
        min_value=0, initial=0, help_text="Rows that may be rejected; with more, nothing is imported."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["task"].label_from_instance = lambda task: (
            task.slug if task.pool_size else f"{task.slug} (no instructions yet)"
        )
        examples = adapter_placeholders()
        self.fields["adapter"].widget.attrs["data-placeholders"] = json.dumps(examples)
        chosen = self.data.get("adapter") if self.is_bound else None
        first = examples.get(chosen or "") or examples.get(next(iter(examples), ""), {})
        for field in ("files", "options"):
            if first:
                self.fields[field].widget.attrs["placeholder"] = first[field]

    def clean_files(self) -> dict[str, str]:
        return parse_pairs(self.cleaned_data["files"])

    def clean_options(self) -> dict[str, Any]:
        text = self.cleaned_data["options"].strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError("options must be a JSON object")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if bool(data.get("upload")) == bool(data.get("folder")):
            raise forms.ValidationError("Give either an upload or a server folder.")
        upload = data.get("upload")
        if upload and upload.size > settings.IMPORT_UPLOAD_MAX_BYTES:
            self.add_error("upload", f"The upload is larger than {settings.IMPORT_UPLOAD_MAX_BYTES} bytes.")
        return data

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "adapter": data["adapter"],
            "task": data["task"].slug,
            "split": data["split"],
            "folder": data["folder"],
            "files": data["files"],
            "options": data["options"],
            "max_rejected": data["max_rejected"],
        }
