from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response

from . import pool
from .access import pool_tasks
from .models import Instruction, Task
from .permissions import IsAdminOrReadOnly
from .serializers import (
    CommentSerializer,
    InstructionCreateSerializer,
    InstructionSerializer,
    InstructionTextSerializer,
    PoolSerializer,
    ReorderSerializer,
    TaskSerializer,
)


class TaskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """The task registry: every signed-in user reads it; admins assign writer and reviewer."""

    serializer_class = TaskSerializer
    permission_classes = [IsAdminOrReadOnly]
    lookup_field = "slug"
    queryset = Task.objects.select_related("writer", "reviewer").prefetch_related("splits").order_by("id")


class PoolRuleError(APIException):
    """A PoolError from annotator.pool, with its status (400 bad input, 403 not allowed, 409 locked)."""

    def __init__(self, exc: pool.PoolError) -> None:
        self.status_code = exc.status_code
        super().__init__(detail=str(exc))


@contextmanager
def pool_rules() -> Iterator[None]:
    try:
        yield
    except pool.PoolError as exc:
        raise PoolRuleError(exc) from exc


class InstructionViewSet(viewsets.ModelViewSet):
    """Instructions of the pools you may see (?task=<slug> for one pool). Only a task's writer changes its
    pool, and only while it is not submitted; reviewers of the task and admins read; other tasks are 404."""

    serializer_class = InstructionSerializer
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self) -> Any:
        instructions = Instruction.objects.filter(task__in=pool_tasks(self.request.user)).select_related(
            "task", "author"
        )
        slug = self.request.query_params.get("task")
        return instructions.filter(task__slug=slug) if slug else instructions

    @extend_schema(request=InstructionCreateSerializer, responses={201: InstructionSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = InstructionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        task = get_object_or_404(pool_tasks(request.user), slug=data.validated_data["task"])
        with pool_rules():
            instruction = pool.add_instruction(task, request.user, data.validated_data["text"])
        return Response(self.get_serializer(instruction).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=InstructionTextSerializer, responses=InstructionSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instruction = self.get_object()
        data = InstructionTextSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with pool_rules():
            instruction = pool.edit_instruction(
                instruction.task, request.user, instruction.pk, data.validated_data["text"]
            )
        return Response(self.get_serializer(instruction).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instruction = self.get_object()
        with pool_rules():
            pool.delete_instruction(instruction.task, request.user, instruction.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PoolViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A task's instruction pool as a whole: read it, reorder, submit (writer); return, unlock, import (admins)."""

    serializer_class = PoolSerializer
    lookup_field = "slug"

    def get_queryset(self) -> Any:
        return pool_tasks(self.request.user).order_by("id")

    def _done(self, task: Task) -> Response:
        task.refresh_from_db()
        return Response(self.get_serializer(task).data)

    @extend_schema(request=None, responses=PoolSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, slug: str | None = None) -> Response:
        task = self.get_object()
        with pool_rules():
            pool.submit(task, request.user)
        return self._done(task)

    @extend_schema(request=ReorderSerializer, responses=PoolSerializer)
    @action(detail=True, methods=["post"])
    def reorder(self, request: Request, slug: str | None = None) -> Response:
        task = self.get_object()
        data = ReorderSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with pool_rules():
            pool.reorder(task, request.user, data.validated_data["order"])
        return self._done(task)

    @extend_schema(request=CommentSerializer, responses=PoolSerializer)
    @action(detail=True, methods=["post"], url_path="return")
    def return_pool(self, request: Request, slug: str | None = None) -> Response:
        task = self.get_object()
        data = CommentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with pool_rules():
            pool.return_pool(task, request.user, data.validated_data["comment"])
        return self._done(task)

    @extend_schema(request=None, responses=PoolSerializer)
    @action(detail=True, methods=["post"])
    def unlock(self, request: Request, slug: str | None = None) -> Response:
        task = self.get_object()
        with pool_rules():
            pool.unlock(task, request.user)
        return self._done(task)

    @extend_schema(
        request={"application/json": {"type": "array", "items": {"type": "string"}}},
        responses=PoolSerializer,
        description="Replace the pool with an instructions.json list of strings (admins; all or nothing).",
    )
    @action(detail=True, methods=["get", "put"], url_path="instructions-json")
    def instructions_json(self, request: Request, slug: str | None = None) -> Response:
        task = self.get_object()
        if request.method == "GET":
            return Response(pool.export_texts(task))
        with pool_rules():
            pool.import_pool(task, request.user, pool.validate_texts(request.data))
        return self._done(task)
