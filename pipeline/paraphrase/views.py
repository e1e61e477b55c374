"""Stage II pages for admins: pick splits, see the estimate, start, follow, inspect samples.

LLM output is untrusted text: templates show it through Django's autoescaping only (never |safe).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from annotator.models import TaskSplit
from annotator.permissions import AdminRequiredMixin
from pipeline.jobs.access import visible_jobs
from pipeline.models import Job, JobKind, ParaphraseBudget, ParaphraseState, Sample
from pipeline.paraphrase import runner as paraphrase_run


def paraphrase_jobs(user: Any) -> QuerySet[Job]:
    """Parent paraphrase jobs this user may see (chunks are shown inside their parent)."""
    return visible_jobs(user).filter(kind=JobKind.PARAPHRASE).exclude(params__has_key="parent")


def split_choices() -> list[tuple[str, str]]:
    """Every split that has samples waiting, with the count, from the splits' counters (no COUNT)."""
    rows = (
        TaskSplit.objects.annotate(n=F("paraphrase_pending") - F("pending_corrected"))
        .filter(n__gt=0)
        .values("task__slug", "task__name", "split", "n")
        .order_by("task__slug", "split")
    )
    return [(f"{r['task__slug']}/{r['split']}", f"{r['task__name']} / {r['split']} — {r['n']} pending") for r in rows]


class StartForm(forms.Form):
    splits = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, label="Splits to paraphrase")
    budget_usd = forms.DecimalField(
        required=False, min_value=0, decimal_places=4, label="Budget cap (US$)", help_text="Empty: no cap."
    )
    retry_request_failures = forms.BooleanField(
        required=False, label="Also retry samples that fell back because the model could not be reached"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = split_choices()
        if self.data:
            # Splits with only failed-request fallbacks have nothing pending but may be retried.
            known = {value for value, _ in choices}
            choices += [(label, label) for label in self.data.getlist("splits") if label not in known]
        self.fields["splits"].choices = choices

    def clean_splits(self) -> list[TaskSplit]:
        try:
            return paraphrase_run.parse_split_labels(self.cleaned_data["splits"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


def endpoint_label() -> str:
    return settings.OPENAI_BASE_URL or "OpenAI (default endpoint)"


class ParaphraseStartView(AdminRequiredMixin, View):
    template_name = "pipeline/paraphrase/start.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = StartForm(request.GET if "splits" in request.GET else None)
        plan = None
        if form.is_bound and form.is_valid():
            plan = paraphrase_run.estimate(form.cleaned_data["splits"], form.cleaned_data["retry_request_failures"])
        return self._render(request, form, plan)

    def post(self, request: HttpRequest) -> HttpResponse:
        """Start, or with `estimate` (the Estimate button) only show the estimate. Both are POSTs, so the
        CSRF token stays out of the URL and the server log."""
        form = StartForm(request.POST)
        if not form.is_valid():
            return self._render(request, form, None, status=400)
        data = form.cleaned_data
        plan = paraphrase_run.estimate(data["splits"], data["retry_request_failures"])
        if "estimate" in request.POST:
            return self._render(request, form, plan)
        if not plan.samples:
            form.add_error("splits", "Nothing to paraphrase in these splits: every sample is already done.")
            return self._render(request, form, plan, status=400)
        budget = float(data["budget_usd"]) if data["budget_usd"] is not None else None
        try:
            job = paraphrase_run.start_paraphrase(data["splits"], request.user, budget, data["retry_request_failures"])
        except ValueError as exc:
            form.add_error(None, str(exc))
            return self._render(request, form, plan, status=409)
        note = "" if plan.has_api_key else " No API key is configured: every answer gets the template sentence."
        messages.success(request, f"Paraphrasing {plan.samples} samples started as job #{job.pk}.{note}")
        return redirect("paraphrase-job", pk=job.pk)

    def _render(self, request: HttpRequest, form: StartForm, plan: Any, status: int = 200) -> HttpResponse:
        context = {
            "form": form,
            "plan": plan,
            "has_api_key": bool(settings.OPENAI_API_KEY),
            "model": settings.PARAPHRASE_MODEL,
            "endpoint": endpoint_label(),
            "jobs": paraphrase_jobs(request.user)[:10],
        }
        return render(request, self.template_name, context, status=status)


class ParaphraseJobView(AdminRequiredMixin, View):
    """A paraphrase job: live counters, budget, chunks, and each sample's outcome."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = get_object_or_404(paraphrase_jobs(request.user), pk=pk)
        try:  # the job's splits first (indexed), then the samples this job wrote
            splits = paraphrase_run.parse_split_labels(job.params.get("splits", []))
        except ValueError:  # a task deleted since
            splits = []
        samples = paraphrase_run.samples_of(splits).filter(paraphrase__job=job.pk).select_related("task").order_by("id")
        outcome = request.GET.get("outcome", "")
        if outcome in ParaphraseState.values:
            samples = samples.filter(paraphrase_state=outcome)
        page = Paginator(samples, 50).get_page(request.GET.get("page"))
        context = {
            "job": job,
            "budget": ParaphraseBudget.objects.filter(job=job).first(),
            "chunks": paraphrase_run.chunks_of(job).only("id", "status", "done", "total", "params", "attempts")[:200],
            "page": page,
            "outcome": outcome,
            "outcomes": ParaphraseState.choices,
        }
        return render(request, "pipeline/paraphrase/job.html", context)


class ParaphraseSampleView(AdminRequiredMixin, View):
    """One sample: original answer, paraphrase, and how it was made (provenance and raw response)."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        sample = get_object_or_404(Sample.objects.select_related("task"), pk=pk)
        info = dict(sample.paraphrase or {})
        raw = info.pop("raw", "")
        response = info.pop("response", None)
        job = paraphrase_jobs(request.user).filter(pk=info.get("job")).first()
        context = {"sample": sample, "info": sorted(info.items()), "raw": raw, "response": response, "job": job}
        return render(request, "pipeline/paraphrase/sample.html", context)
