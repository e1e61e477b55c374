from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.models import Task
from annotator.pagination import IdCursorPagination
from annotator.permissions import IsAdmin, IsAdminElse404

from .access import visible_jobs
from .adapters import ADAPTERS, ImportInputError
from .browse import filtered_samples
from .jobs import request_cancel
from .models import JobKind, Sample
from .serializers import ImportStartSerializer, JobSerializer, SampleSerializer
from .uploads import start_import_from_upload


class NewestFirstPagination(IdCursorPagination):
    ordering = "-id"


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Progress of long jobs. A job is visible to admins and to whoever started it."""

    serializer_class = JobSerializer
    pagination_class = NewestFirstPagination

    def get_queryset(self) -> Any:
        return visible_jobs(self.request.user)

    @action(detail=True, methods=["post"], permission_classes=[IsAdmin])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        job = self.get_object()
        request_cancel(job)
        job.refresh_from_db()
        return Response(self.get_serializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Import jobs: list and follow them, start one (JSON with a server folder, or multipart with an upload).

    Admins only; 404 for anyone else."""

    serializer_class = JobSerializer
    permission_classes = [IsAdminElse404]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self) -> Any:
        return visible_jobs(self.request.user).filter(kind=JobKind.IMPORT)

    @extend_schema(request=ImportStartSerializer, responses={202: JobSerializer})
    def create(self, request: Request) -> Response:
        start = ImportStartSerializer(data=request.data)
        start.is_valid(raise_exception=True)
        upload = start.validated_data.get("upload")
        try:
            job = start_import_from_upload(start.params(), upload, request.user)
        except ImportInputError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @action(detail=False, methods=["get"])
    def adapters(self, request: Request) -> Response:
        """The registry: each adapter with the files it needs and its options."""
        return Response(
            [
                {
                    "name": adapter.name,
                    "label": adapter.label,
                    "description": adapter.description,
                    "files": [
                        {"role": f.role, "kind": f.kind, "default": f.default, "required": f.required, "help": f.help}
                        for f in adapter.files
                    ],
                    "options": [
                        {"name": o.name, "default": o.default, "help": o.help, "kind": o.kind} for o in adapter.options
                    ],
                }
                for adapter in ADAPTERS.values()
            ]
        )


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
