"""The QC API, with the same rules as the pages: a reviewer reads and acts on their own reviews only
(anything else is 404), annotators cannot review, and every decision goes through qc.review."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from annotator import roles
from annotator.models import TaskSplit
from annotator.permissions import IsAdmin

from . import review
from .access import actionable_items, startable_splits, visible_reviews
from .models import ReviewItem
from .serializers import (
    BulkDecisionSerializer,
    DecisionSerializer,
    ReviewItemSerializer,
    ReviewSerializer,
    SecondReviewSerializer,
    StartReviewSerializer,
    SubmitReviewSerializer,
)


class IsReviewerOrAdmin(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return roles.is_reviewer(request.user) or roles.is_admin(request.user)


def _decide(item: ReviewItem, user: Any, data: dict[str, Any]) -> ReviewItem:
    try:
        return review.apply_decision(
            item,
            user,
            data["verdict"],
            problems=data.get("problems", ()),
            comment=data.get("comment", ""),
            inputs=data.get("inputs"),
            outputs=data.get("outputs"),
        )
    except review.ReviewError as exc:
        raise serializers.ValidationError({"detail": str(exc)}) from exc


class ReviewViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Reviews: POST starts the next round of a split (its reviewer, or an admin)."""

    serializer_class = ReviewSerializer
    permission_classes = [IsReviewerOrAdmin]

    def get_queryset(self) -> Any:
        return visible_reviews(self.request.user).order_by("id")

    @extend_schema(request=StartReviewSerializer, responses={201: ReviewSerializer})
    def create(self, request: Request) -> Response:
        params = StartReviewSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        split = startable_splits(request.user).filter(pk=params.validated_data["task_split"]).first()
        if split is None:
            raise Http404
        try:
            started = review.start_review(split, request.user)
        except review.ReviewError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from exc
        return Response(ReviewSerializer(started).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SecondReviewSerializer, responses={201: ReviewSerializer})
    @action(detail=False, methods=["post"], permission_classes=[IsAdmin])
    def second(self, request: Request) -> Response:
        """An admin asks a second reviewer to judge the same samples as the split's latest review."""
        params = SecondReviewSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        split = get_object_or_404(TaskSplit, pk=params.validated_data["task_split"])
        reviewer = get_object_or_404(get_user_model(), pk=params.validated_data["reviewer"])
        try:
            created = review.request_second_review(split, request.user, reviewer)
        except review.ReviewError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from exc
        return Response(ReviewSerializer(created).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SubmitReviewSerializer, responses={200: ReviewSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        """Close the reviewer's own review once every sample is decided (qc.review.submit); the answer's
        `message` says what happened, e.g. why the split is not approved yet."""
        review_obj = self.get_object()
        if review_obj.reviewer_id != request.user.pk:
            raise Http404
        params = SubmitReviewSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            _, message = review.submit(review_obj, request.user, params.validated_data["short_answers"])
        except review.ReviewError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from exc
        review_obj.refresh_from_db()
        return Response({**ReviewSerializer(review_obj).data, "message": message})

    @extend_schema(request=None, responses={200: ReviewItemSerializer})
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str | None = None) -> Response:
        """Take back the last decision of the reviewer's own open review."""
        review_obj = self.get_object()
        if review_obj.reviewer_id != request.user.pk:
            raise Http404
        try:
            item = review.undo_last(review_obj, request.user)
        except review.ReviewError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from exc
        return Response(ReviewItemSerializer(ReviewItem.objects.select_related("sample").get(pk=item.pk)).data)

    @extend_schema(request=None, responses={200: ReviewSerializer})
    @action(detail=True, methods=["post"], url_path="load-check")
    def load_check(self, request: Request, pk: str | None = None) -> Response:
        review_obj = self.get_object()
        if review_obj.reviewer_id != request.user.pk:
            raise Http404
        if review_obj.is_open:
            try:
                review.recheck(review_obj, request.user)
            except review.ReviewError as exc:
                raise serializers.ValidationError({"detail": str(exc)}) from exc
            review_obj.refresh_from_db()
        return Response(ReviewSerializer(review_obj).data)


class ReviewItemViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    """Items of reviews. Reading: admins all, a reviewer their own. Writing (PATCH, bulk): own items only."""

    serializer_class = ReviewItemSerializer
    permission_classes = [IsReviewerOrAdmin]
    http_method_names = ["get", "patch", "post", "head", "options"]

    def get_queryset(self) -> Any:
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            visible = visible_reviews(self.request.user)
            return ReviewItem.objects.filter(review__in=visible).select_related("sample").order_by("id")
        return actionable_items(self.request.user).order_by("id")

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        item = self.get_object()
        decision = DecisionSerializer(data=request.data)
        decision.is_valid(raise_exception=True)
        item = _decide(item, request.user, decision.validated_data)
        return Response(ReviewItemSerializer(ReviewItem.objects.select_related("sample").get(pk=item.pk)).data)

    @action(detail=False, methods=["post", "patch"])
    def bulk(self, request: Request) -> Response:
        """Several decisions at once, all or nothing: one unknown item or one refused step changes nothing."""
        decisions = BulkDecisionSerializer(data=request.data, many=True)
        decisions.is_valid(raise_exception=True)
        ids = [d["id"] for d in decisions.validated_data]
        items = actionable_items(request.user).in_bulk(ids)
        if len(items) != len(set(ids)):
            raise Http404
        with transaction.atomic():
            done = [_decide(items[d["id"]], request.user, d).pk for d in decisions.validated_data]
        fresh = ReviewItem.objects.select_related("sample").filter(pk__in=done).order_by("id")
        return Response(ReviewItemSerializer(fresh, many=True).data)
