"""Samples in the API, filtered, in cursor pages by id."""

from __future__ import annotations

from typing import Any

from rest_framework import mixins, viewsets

from annotator.models import Task
from annotator.permissions import IsAdminElse404
from pipeline.models import Sample
from pipeline.samples.browse import filtered_samples
from pipeline.samples.serializers import SampleSerializer


class SampleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Samples, filtered by ?task=&split=&paraphrase_state=&qc_state=; cursor pages by id (no COUNT)."""

    serializer_class = SampleSerializer
    permission_classes = [IsAdminElse404]

    def get_queryset(self) -> Any:
        params = self.request.query_params
        task = Task.objects.filter(slug=params["task"]).first() if params.get("task") else None
        if params.get("task") and task is None:
            return Sample.objects.none()
        return filtered_samples(
            task=task,
            split=params.get("split", ""),
            paraphrase_state=params.get("paraphrase_state", ""),
            qc_state=params.get("qc_state", ""),
        )
