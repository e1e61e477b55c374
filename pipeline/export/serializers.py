from __future__ import annotations

from typing import Any

from rest_framework import serializers

from annotator.models import Split
from pipeline.export import writer as exports
from pipeline.jobs.serializers import JobSerializer
from pipeline.models import Export


class ExportSerializer(serializers.ModelSerializer):
    job = JobSerializer(read_only=True)
    created_by = serializers.StringRelatedField()
    path = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = [
            "id",
            "name",
            "job",
            "requested",
            "included",
            "excluded",
            "digest",
            "size_bytes",
            "file_count",
            "path",
            "created_by",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields

    def get_path(self, export: Export) -> str:
        """Where the export lies on the server once complete."""
        return str(exports.export_dir(export))


class ExportDetailSerializer(ExportSerializer):
    files = serializers.SerializerMethodField()
    files_problem = serializers.SerializerMethodField(help_text="Set when the export's folder is gone from disk.")

    class Meta(ExportSerializer.Meta):
        fields = [*ExportSerializer.Meta.fields, "files", "files_problem"]
        read_only_fields = fields

    def get_files_problem(self, export: Export) -> str:
        return exports.manifest_files(export)[1]

    def get_files(self, export: Export) -> list[dict[str, Any]]:
        """Every file with its sha256 and size (from the manifest); empty until the export is complete."""
        return exports.manifest_files(export)[0]


class ExportStartSerializer(serializers.Serializer):
    tasks = serializers.ListField(
        child=serializers.SlugField(),
        required=False,
        allow_empty=False,
        help_text="Task slugs; leave out for every task with an approved split.",
    )
    splits = serializers.ListField(
        child=serializers.ChoiceField(choices=Split.choices),
        required=False,
        allow_empty=False,
        help_text="Splits to include; leave out for all. Unapproved splits are always left out.",
    )
