"""Stage III pages: the reviewer's queue, the keyboard-driven review page, the QC dashboard and split history."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import AccessMixin, LoginRequiredMixin
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from annotator import roles
from annotator.models import TaskSplit
from annotator.permissions import AdminRequiredMixin
from pipeline.models import Sample, SampleImage

from . import dashboard, review
from .access import (
    actionable_items,
    history_visible_splits,
    open_reviews_of,
    returned_splits,
    startable_splits,
    visible_reviews,
    waiting_splits,
)
from .models import AuditEvent, ProblemTag, Review, ReviewItem, ReviewStatus, ShortAnswers, Verdict


class ReviewerRequiredMixin(AccessMixin):
    """Reviewers (and admins, who oversee): anonymous users go to the login page, others get 404."""

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not (roles.is_reviewer(request.user) or roles.is_admin(request.user)):
            raise Http404
        return super().dispatch(request, *args, **kwargs)


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


class ReviewQueueView(ReviewerRequiredMixin, TemplateView):
    """The splits waiting for this reviewer, their open reviews and their recent decisions."""

    template_name = "qc/queue.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        user = self.request.user
        mine = Review.objects.filter(reviewer=user).select_related("task_split__task")
        context = super().get_context_data(**kwargs)
        context.update(
            waiting=waiting_splits(user),
            open_reviews=open_reviews_of(user),  # the home page lists the same two
            closed_reviews=mine.exclude(status=ReviewStatus.OPEN).order_by("-decided_at")[:20],
        )
        return context


class StartReviewView(ReviewerRequiredMixin, View):
    """Draw the samples of a split's next round (the task's reviewer, or an admin for them)."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        split = get_object_or_404(startable_splits(request.user), pk=pk)
        try:
            started = review.start_review(split, request.user)
        except review.ReviewError as exc:
            messages.error(request, str(exc))
            return redirect("qc-dashboard" if roles.is_admin(request.user) else "review-queue")
        messages.success(request, f"Drew {len(started.sample_ids)} samples of {split} (round {started.round}).")
        if started.reviewer_id == request.user.pk:
            return redirect("review-detail", pk=started.pk)
        return redirect("qc-split-history", pk=split.pk)


def review_items(review_obj: Review) -> list[ReviewItem]:
    """The items of a review with everything the page shows, in a fixed number of queries."""
    images = SampleImage.objects.select_related("image").order_by("position")
    samples = Sample.objects.select_related("task", "instruction").prefetch_related(
        Prefetch("sample_images", queryset=images)
    )
    return list(
        review_obj.items.select_related(None)
        .prefetch_related(Prefetch("sample", queryset=samples))
        .order_by("position")
    )


class ReviewDetailView(ReviewerRequiredMixin, TemplateView):
    """One sample at a time, keyboard-driven: a approve, r reject, e edit, j/k next/previous, ? help."""

    template_name = "qc/review.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        review_obj = get_object_or_404(visible_reviews(self.request.user), pk=kwargs["pk"])
        items = review_items(review_obj)
        events = defaultdict(list)
        split_events = []
        for event in AuditEvent.objects.filter(review=review_obj).select_related("actor"):
            (events[event.item_id] if event.item_id else split_events).append(event)
        for item in items:
            item.audit = events[item.pk]
        decided = sum(1 for item in items if item.verdict != Verdict.PENDING)
        stale = review.stale_reason(review_obj)
        first_pending = next((i for i, item in enumerate(items) if item.verdict == Verdict.PENDING), 0)
        split = review_obj.task_split
        can_act = review_obj.is_open and not stale and review_obj.reviewer_id == self.request.user.pk
        context = super().get_context_data(**kwargs)
        context.update(review_summary(review_obj, items, self.request.user))
        context.update(
            review=review_obj,
            split=review_obj.task_split,
            items=items,
            decided=decided,
            total=len(items),
            percent=round(100 * decided / len(items)) if items else 0,
            start_index=first_pending,
            stale=stale,
            can_act=can_act,
            can_correct=review_obj.is_primary,
            tags=ProblemTag.choices,
            split_events=split_events,
            problems_by_sample=review_obj.load_check.get("problems", {}),
            load_check_fixes=review.load_check_fixes(review_obj) if review_obj.load_check else [],
            unparaphrased=review.unparaphrased_count(split),
            short_answer_choices=[c for c in ShortAnswers.choices if c[0]],
        )
        return context


def review_summary(review_obj: Review, items: list[ReviewItem], user: Any) -> dict[str, Any]:
    """The counts by verdict (the end-of-review summary) and the split that waits next for this reviewer."""
    counts = {verdict: 0 for verdict in Verdict.values}
    for item in items:
        counts[item.verdict] += 1
    next_split = None
    if not review_obj.is_open and roles.is_reviewer(user):
        next_split = waiting_splits(user).exclude(pk=review_obj.task_split_id).first()
    return {"verdict_counts": counts, "next_split": next_split}


def item_payload(item: ReviewItem) -> dict[str, Any]:
    review_obj = Review.objects.select_related("task_split__task").get(pk=item.review_id)
    counts = review_obj.items.exclude(verdict=Verdict.PENDING).count()
    sample = Sample.objects.get(pk=item.sample_id)
    return {
        "fixes": review.load_check_fixes(review_obj) if review_obj.load_check else [],
        "item": {
            "id": item.pk,
            "position": item.position,
            "verdict": item.verdict,
            "problems": item.problems,
            "comment": item.comment,
            "inputs": sample.inputs,
            "outputs": sample.outputs,
        },
        "decided": counts,
        "total": len(review_obj.sample_ids),
        "review_status": review_obj.status,
        "split_status": review_obj.task_split.qc_status,
        "load_check": review_obj.load_check,
    }


class ItemDecideView(ReviewerRequiredMixin, View):
    """Approve, reject (tags + comment) or correct one sample; JSON for the page's script, else a redirect."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        item = get_object_or_404(actionable_items(request.user), pk=pk)
        data = request.POST
        verdict = data.get("verdict", "")
        try:
            item = review.apply_decision(
                item,
                request.user,
                verdict,
                problems=data.getlist("problems"),
                comment=data.get("comment", ""),
                inputs=data.get("inputs") if verdict == Verdict.CORRECTED else None,
                outputs=data.get("outputs") if verdict == Verdict.CORRECTED else None,
                close=False,  # the page closes the review with an explicit submit (ReviewSubmitView)
            )
        except review.ReviewError as exc:
            if wants_json(request):
                return JsonResponse({"error": str(exc)}, status=400)
            messages.error(request, str(exc))
            return redirect(f"{reverse('review-detail', args=[item.review_id])}#item-{item.position + 1}")
        if wants_json(request):
            return JsonResponse(item_payload(item))
        return redirect(f"{reverse('review-detail', args=[item.review_id])}#item-{item.position + 2}")


class LoadCheckView(ReviewerRequiredMixin, View):
    """Run the load check again (after the samples were fixed elsewhere)."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        review_obj = get_object_or_404(visible_reviews(request.user).filter(reviewer=request.user), pk=pk)
        try:
            result = review.recheck(review_obj, request.user, close=False)
        except review.ReviewError as exc:
            messages.error(request, str(exc))
        else:
            if result["ok"]:
                messages.info(request, "Load check passed.")
            else:
                messages.warning(request, "Load check found problems: " + " ".join(review.blockers(review_obj)))
        return redirect("review-detail", pk=review_obj.pk)


class ReviewUndoView(ReviewerRequiredMixin, View):
    """Take back the last decision of the reviewer's open review (the `u` key)."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        review_obj = get_object_or_404(visible_reviews(request.user).filter(reviewer=request.user), pk=pk)
        try:
            item = review.undo_last(review_obj, request.user)
        except review.ReviewError as exc:
            if wants_json(request):
                return JsonResponse({"error": str(exc)}, status=400)
            messages.error(request, str(exc))
            return redirect("review-detail", pk=review_obj.pk)
        if wants_json(request):
            return JsonResponse(item_payload(item))
        messages.info(request, f"Undid the decision on sample {item.position + 1}.")
        return redirect(f"{reverse('review-detail', args=[review_obj.pk])}#item-{item.position + 1}")


class ReviewSubmitView(ReviewerRequiredMixin, View):
    """The explicit last step of a review: approve the split or send it back (qc.review.submit)."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        review_obj = get_object_or_404(visible_reviews(request.user).filter(reviewer=request.user), pk=pk)
        try:
            status, message = review.submit(review_obj, request.user, request.POST.get("short_answers", ""))
        except review.ReviewError as exc:
            messages.error(request, str(exc))
        else:
            (messages.warning if status == ReviewStatus.OPEN else messages.success)(request, message)
        return redirect("review-detail", pk=review_obj.pk)


class DashboardView(AdminRequiredMixin, TemplateView):
    """Tasks by splits at a glance: status, reviewer, date, problems by tag, agreement."""

    template_name = "qc/dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        reviewer_id = self.request.GET.get("reviewer")
        reviewer = None
        if reviewer_id:
            reviewer = get_object_or_404(get_user_model(), pk=reviewer_id if reviewer_id.isdigit() else 0)
        context.update(dashboard.dashboard(reviewer.pk if reviewer else None), reviewer=reviewer)
        return context


class ReviewerStatsView(AdminRequiredMixin, TemplateView):
    template_name = "qc/reviewers.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(rows=dashboard.reviewer_stats(), tags=dashboard.TAGS)
        return context


class SplitHistoryView(LoginRequiredMixin, TemplateView):
    """Every review of a split, the notes it was sent back with, and its whole audit record."""

    template_name = "qc/split_history.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        split = get_object_or_404(history_visible_splits(self.request.user), pk=kwargs["pk"])
        reviews = list(
            split.reviews.select_related("reviewer").prefetch_related("items__sample").order_by("-round", "role")
        )
        context = super().get_context_data(**kwargs)
        context.update(
            split=split,
            reviews=reviews,
            events=split.qc_events.select_related("actor", "item").order_by("-id"),
            is_admin=roles.is_admin(self.request.user),
            reviewers=get_user_model()
            .objects.filter(groups__name="reviewer")
            .exclude(pk__in=[r.reviewer_id for r in reviews])
            .exclude(pk=split.task.writer_id or 0)
            .order_by("username"),
        )
        return context


class SecondReviewView(AdminRequiredMixin, View):
    """An admin asks a second reviewer to judge the same samples (for agreement)."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        split = get_object_or_404(TaskSplit, pk=pk)
        reviewer = get_object_or_404(get_user_model(), pk=request.POST.get("reviewer") or 0)
        try:
            review.request_second_review(split, request.user, reviewer)
            messages.success(request, f"{reviewer} will review the same samples of {split}.")
        except review.ReviewError as exc:
            messages.error(request, str(exc))
        return redirect("qc-split-history", pk=split.pk)


class ReturnedSplitsView(LoginRequiredMixin, TemplateView):
    """For the annotator (and admins): splits sent back by QC, with the reviewer's notes."""

    template_name = "qc/returned.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["splits"] = returned_splits(self.request.user)
        return context
