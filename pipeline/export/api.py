"""REST endpoints for exports: start, list, detail, download, delete. Admins only; 404 for anyone else."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.permissions import IsAdminElse404
from pipeline.export import writer as exports
from pipeline.export.serializers import ExportDetailSerializer, ExportSerializer, ExportStartSerializer
from pipeline.models import Export


def archive_response(export: Export) -> StreamingHttpResponse:
    """A zip of the export, streamed file by file (never built in memory or on disk)."""
    if export.completed_at is None:
        raise exports.ExportError(f"export {export.name} is not complete")
    stream = exports.archive(export)
    response = StreamingHttpResponse(stream, content_type="application/zip")
    response["Content-Length"] = str(len(stream))
    response["Content-Disposition"] = f'attachment; filename="{export.name}.zip"'
    return response


class ExportViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    permission_classes = [IsAdminElse404]
    queryset = Export.objects.select_related("job", "job__created_by", "job__task", "created_by")

    def get_serializer_class(self) -> type:
        if self.action == "create":
            return ExportStartSerializer
        return ExportDetailSerializer if self.action == "retrieve" else ExportSerializer

    @extend_schema(request=ExportStartSerializer, responses={201: ExportSerializer})
    def create(self, request: Request) -> Response:
        """Start an export; `excluded` in the answer says which asked-for splits were left out and why."""
        start = ExportStartSerializer(data=request.data)
        start.is_valid(raise_exception=True)
        try:
            export = exports.start_export(
                request.user, start.validated_data.get("tasks"), start.validated_data.get("splits")
            )
        except exports.ExportError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(ExportSerializer(export, context=self.get_serializer_context()).data, status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Export) -> None:
        try:
            exports.delete_export(instance)
        except exports.ExportError as exc:
            raise ValidationError({"detail": str(exc)}) from exc

    @extend_schema(responses={200: OpenApiResponse(description="A zip archive of the export.")})
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: Any = None) -> StreamingHttpResponse:
        try:
            return archive_response(self.get_object())
        except exports.ExportError as exc:
            raise NotFound(str(exc)) from exc
