"""Samples as the API shows them, with their images in order."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from pipeline.models import Sample, SampleImage


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
