"""Stage II in the API: estimate (dry run) or start paraphrasing some splits."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.models import TaskSplit
from annotator.permissions import IsAdminElse404
from pipeline.jobs.serializers import JobSerializer
from pipeline.paraphrase import runner as paraphrase_run
from pipeline.paraphrase.views import endpoint_label


class ParaphraseStartSerializer(serializers.Serializer):
    splits = serializers.ListField(child=serializers.CharField(), allow_empty=False, help_text='e.g. ["vqa-v2/train"]')
    budget_usd = serializers.DecimalField(max_digits=12, decimal_places=4, min_value=0, required=False, allow_null=True)
    retry_request_failures = serializers.BooleanField(default=False)
    dry_run = serializers.BooleanField(default=False, help_text="Only return the estimate.")

    def validate_splits(self, value: list[str]) -> list[TaskSplit]:
        try:
            return paraphrase_run.parse_split_labels(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


ESTIMATE = inline_serializer(
    "ParaphraseEstimate",
    {
        "samples": serializers.IntegerField(),
        "tokens_in": serializers.IntegerField(),
        "tokens_out": serializers.IntegerField(),
        "cost_usd": serializers.FloatField(),
        "kept_corrected": serializers.IntegerField(help_text="Waiting samples left alone: QC corrected them."),
        "model": serializers.CharField(),
        "has_api_key": serializers.BooleanField(),
        "price_in_per_mtok": serializers.FloatField(),
        "price_out_per_mtok": serializers.FloatField(),
        "endpoint": serializers.CharField(),
    },
)


@extend_schema_view(
    post=extend_schema(
        request=ParaphraseStartSerializer,
        responses={
            200: inline_serializer("ParaphraseDryRun", {"estimate": ESTIMATE}),
            202: inline_serializer("ParaphraseStarted", {"estimate": ESTIMATE, "job": JobSerializer()}),
        },
    )
)
class ParaphraseStartAPI(APIView):
    """POST: estimate (dry_run) or start Stage II for some splits. Admins only (others: 404)."""

    permission_classes = [IsAdminElse404]
    serializer_class = ParaphraseStartSerializer

    def post(self, request: Request) -> Response:
        serializer = ParaphraseStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        plan = paraphrase_run.estimate(data["splits"], data["retry_request_failures"])
        estimate = {**plan.__dict__, "endpoint": endpoint_label()}
        if data["dry_run"]:
            return Response({"estimate": estimate})
        if not plan.samples:
            return Response(
                {"splits": ["Nothing to paraphrase in these splits: every sample is already done."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        budget = data.get("budget_usd")
        try:
            job = paraphrase_run.start_paraphrase(
                data["splits"],
                request.user,
                float(budget) if budget is not None else None,
                data["retry_request_failures"],
            )
        except ValueError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response({"estimate": estimate, "job": JobSerializer(job).data}, status=status.HTTP_202_ACCEPTED)
