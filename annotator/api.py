from __future__ import annotations

from rest_framework import mixins, viewsets

from .models import Task
from .permissions import IsAdminOrReadOnly
from .serializers import TaskSerializer


class TaskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """The task registry: every signed-in user reads it; admins assign writer and reviewer."""

    serializer_class = TaskSerializer
    permission_classes = [IsAdminOrReadOnly]
    lookup_field = "slug"
    queryset = Task.objects.select_related("writer", "reviewer").prefetch_related("splits").order_by("id")
