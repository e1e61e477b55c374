"""Imports in the API: list and follow import jobs, start one, list the adapters."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.pagination import NewestFirstCursorPagination
from annotator.permissions import IsAdminElse404
from pipeline.imports.adapters import ADAPTERS, ImportInputError, tasks_of
from pipeline.imports.serializers import ImportStartSerializer
from pipeline.imports.uploads import start_import_from_upload
from pipeline.jobs.access import visible_jobs
from pipeline.jobs.serializers import JobSerializer
from pipeline.models import JobKind


class ImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Import jobs: list and follow them, start one (JSON with a server folder, or multipart with an upload).

    Admins only; 404 for anyone else. Newest first, as on the import page."""

    serializer_class = JobSerializer
    permission_classes = [IsAdminElse404]
    pagination_class = NewestFirstCursorPagination
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
        """The registry: each adapter with the files it needs, its options and the tasks it reads."""
        return Response(
            [
                {
                    "name": adapter.name,
                    "label": adapter.label,
                    "description": adapter.description,
                    "tasks": tasks_of(adapter.name),
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
