"""Jobs in the API: progress of every long step, and cancel."""

from __future__ import annotations

from typing import Any

from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.pagination import IdCursorPagination
from annotator.permissions import IsAdmin
from pipeline.jobs.access import visible_jobs
from pipeline.jobs.runner import request_cancel
from pipeline.jobs.serializers import JobSerializer


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
