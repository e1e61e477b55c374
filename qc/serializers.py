from __future__ import annotations

from rest_framework import serializers

from .models import ProblemTag, Review, ReviewItem, ShortAnswers, Verdict


class ReviewItemSerializer(serializers.ModelSerializer):
    source_id = serializers.CharField(source="sample.source_id", read_only=True)
    inputs = serializers.CharField(source="sample.inputs", read_only=True)
    outputs = serializers.CharField(source="sample.outputs", read_only=True)

    class Meta:
        model = ReviewItem
        fields = ["id", "review", "position", "sample", "source_id", "verdict", "problems", "comment", "decided_at"]
        fields += ["inputs", "outputs"]
        read_only_fields = fields


class ReviewSerializer(serializers.ModelSerializer):
    task = serializers.CharField(source="task_split.task.slug", read_only=True)
    split = serializers.CharField(source="task_split.split", read_only=True)
    reviewer = serializers.StringRelatedField()

    class Meta:
        model = Review
        fields = ["id", "task_split", "task", "split", "round", "role", "reviewer", "seed", "sample_ids", "status"]
        fields += ["notes", "load_check", "short_answers", "created_at", "decided_at"]
        read_only_fields = fields


class StartReviewSerializer(serializers.Serializer):
    task_split = serializers.IntegerField()


class SecondReviewSerializer(serializers.Serializer):
    task_split = serializers.IntegerField()
    reviewer = serializers.IntegerField()


class DecisionSerializer(serializers.Serializer):
    """What a reviewer sends for one item: approve, reject with tags and comment, or correct."""

    verdict = serializers.ChoiceField(choices=[Verdict.APPROVED, Verdict.REJECTED, Verdict.CORRECTED])
    problems = serializers.ListField(child=serializers.ChoiceField(choices=ProblemTag.choices), required=False)
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    inputs = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    outputs = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class BulkDecisionSerializer(DecisionSerializer):
    id = serializers.IntegerField()


class SubmitReviewSerializer(serializers.Serializer):
    """Needed when the split has samples waiting for paraphrasing: approve with the short answers as they
    are ("as_is"), or record "paraphrase_first" and keep the review open."""

    short_answers = serializers.ChoiceField(choices=[c for c in ShortAnswers.values if c], required=False, default="")
