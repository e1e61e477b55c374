"""Stage IV API: the languages, and plan (dry_run) or start a translation. Thin over plan and runner."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.permissions import IsAdminElse404
from pipeline.jobs.serializers import JobSerializer

from ..models import Language
from . import plan as plans
from . import runner
from .errors import TranslationError


class LanguageSerializer(serializers.ModelSerializer):
    passes = serializers.BooleanField(read_only=True, allow_null=True)

    class Meta:
        model = Language
        fields = ["code", "nllb_code", "name", "script", "rtl", "flores_bleu", "flores_model", "passes"]
        read_only_fields = fields


class LanguageListAPI(ListAPIView):
    """The target languages (any signed-in user)."""

    serializer_class = LanguageSerializer
    queryset = Language.objects.all()
    pagination_class = None


class TranslateSerializer(serializers.Serializer):
    tasks = serializers.ListField(child=serializers.CharField(), required=False, help_text="Default: marked tasks.")
    languages = serializers.ListField(child=serializers.CharField(), required=False, help_text="Default: all.")
    dry_run = serializers.BooleanField(default=False, help_text="Only return the plan.")


class TranslateAPI(APIView):
    """POST: the plan (dry_run) or start a translation job. Admins only (others: 404)."""

    permission_classes = [IsAdminElse404]
    serializer_class = TranslateSerializer

    @extend_schema(
        request=TranslateSerializer,
        responses={
            200: inline_serializer("TranslationPlan", {"plan": serializers.DictField()}),
            202: inline_serializer("TranslationStarted", {"job": JobSerializer()}),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = TranslateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            if data["dry_run"]:
                plan = plans.build_plan(data.get("tasks"), data.get("languages"))
                return Response({"plan": plan.as_dict()})
            job = runner.start_translation(request.user, data.get("tasks"), data.get("languages"))
        except TranslationError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"job": JobSerializer(job).data}, status=status.HTTP_202_ACCEPTED)
