"""Pages for training runs (admins only): list + start form, a run's live page, its JSON, cancel, resume."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import AccessMixin
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import DetailView, ListView

from pipeline.models import Export, JobStatus

from . import runs
from .config import available_configs, load_config
from .models import TrainingRun


def is_admin(user: Any) -> bool:
    """The project's admin role (staff), checked here so that training needs nothing of annotator."""
    return bool(user.is_authenticated and user.is_active and user.is_staff)


class AdminOnlyMixin(AccessMixin):
    """Anonymous users go to the login page; anyone but an admin is told the page does not exist."""

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not is_admin(request.user):
            raise Http404
        return super().dispatch(request, *args, **kwargs)


def _runs() -> Any:
    return TrainingRun.objects.select_related("job", "export", "created_by")


class RunStartForm(forms.Form):
    export = forms.ModelChoiceField(queryset=Export.objects.none(), empty_label=None)
    config = forms.ChoiceField()
    tasks = forms.CharField(required=False, help_text="Comma-separated task slugs; empty: the config's choice.")
    max_steps = forms.IntegerField(required=False, min_value=1, help_text="Empty: the config's.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["export"].queryset = Export.objects.filter(
            completed_at__isnull=False, job__status=JobStatus.SUCCEEDED
        ).order_by("-id")
        self.fields["config"].choices = [
            (name, f"{name} — {load_config(name).description}") for name in available_configs()
        ]

    def overrides(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if tasks := [t.strip() for t in self.cleaned_data["tasks"].split(",") if t.strip()]:
            out["data"] = {"tasks": tasks}
        if self.cleaned_data["max_steps"]:
            out["optim"] = {"max_steps": self.cleaned_data["max_steps"]}
        return out


class RunListView(AdminOnlyMixin, ListView):
    template_name = "training/run_list.html"
    context_object_name = "runs"
    paginate_by = 25

    def get_queryset(self) -> Any:
        return _runs()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["form"] = kwargs.get("form") or RunStartForm()
        return context

    def post(self, request: HttpRequest) -> HttpResponse:
        form = RunStartForm(request.POST)
        if form.is_valid():
            try:
                run = runs.start_run(
                    request.user, form.cleaned_data["export"], form.cleaned_data["config"], form.overrides()
                )
            except runs.TrainingError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Training run #{run.pk} started.")
                return redirect("training-run-detail", pk=run.pk)
        self.object_list = self.get_queryset()
        return self.render_to_response(self.get_context_data(form=form), status=400)


class RunDetailView(AdminOnlyMixin, DetailView):
    template_name = "training/run_detail.html"
    context_object_name = "run"

    def get_queryset(self) -> Any:
        return _runs()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["log_tail"] = runs.log_tail(self.object)
        context["config_yaml"] = _yaml(self.object.config)
        return context


def _yaml(config: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(config, sort_keys=False)


class RunMetricsView(AdminOnlyMixin, View):
    """The run's state and its metric points after `?after=STEP` (the run page polls it)."""

    def get(self, request: HttpRequest, pk: int) -> JsonResponse:
        run = get_object_or_404(_runs(), pk=pk)
        try:
            after = int(request.GET.get("after", 0))
        except ValueError:
            after = 0
        return JsonResponse(runs.metrics_payload(run, after))


class RunCancelView(AdminOnlyMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = get_object_or_404(_runs(), pk=pk)
        runs.cancel_run(run)
        messages.info(request, f"Cancellation of run #{run.pk} requested: it saves a checkpoint and stops.")
        return redirect("training-run-detail", pk=pk)


class RunResumeView(AdminOnlyMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = get_object_or_404(_runs(), pk=pk)
        try:
            runs.resume_run(run, request.user)
        except runs.TrainingError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Run #{run.pk} resumes from its newest checkpoint.")
        return redirect("training-run-detail", pk=pk)
