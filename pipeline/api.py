from __future__ import annotations

from typing import Any

from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.permissions import IsAdmin

from .access import visible_jobs
from .jobs import request_cancel
from .serializers import JobSerializer


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Progress of long jobs. A job is visible to admins and to whoever started it."""

    serializer_class = JobSerializer

    def get_queryset(self) -> Any:
        return visible_jobs(self.request.user)

    @action(detail=True, methods=["post"], permission_classes=[IsAdmin])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        job = self.get_object()
        request_cancel(job)
        job.refresh_from_db()
        return Response(self.get_serializer(job).data, status=status.HTTP_202_ACCEPTED)
