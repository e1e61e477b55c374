from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import TemplateView

from pipeline.models import Job

from . import roles
from .composition import SPLIT_COLOURS, composition_bars, group_rows
from .forms import TaskAssignForm
from .models import Task
from .permissions import AdminRequiredMixin


class HomeView(LoginRequiredMixin, TemplateView):
    """The landing page: each role sees its own work."""

    template_name = "annotator/home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        user = self.request.user
        context = super().get_context_data(**kwargs)
        context["writing"] = (
            Task.objects.filter(writer=user).with_instruction_counts() if roles.is_annotator(user) else []
        )
        context["reviewing"] = (
            Task.objects.filter(reviewer=user).prefetch_related("splits") if roles.is_reviewer(user) else []
        )
        if roles.is_admin(user):
            context["recent_jobs"] = Job.objects.select_related("created_by")[:10]
            context["unassigned"] = Task.objects.filter(writer__isnull=True).count()
        return context


class TaskListView(LoginRequiredMixin, TemplateView):
    """The registry, grouped as in the paper, with the dataset's composition as a chart."""

    template_name = "annotator/task_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        tasks = list(Task.objects.select_related("writer", "reviewer").with_instruction_counts())
        rows = group_rows(tasks)
        bars = composition_bars(rows)
        context.update(
            groups=rows,
            bars=bars,
            chart_height=len(bars) * 26 + 30,
            split_colours=SPLIT_COLOURS,
            totals={s: sum(getattr(r, s) for r in rows) for s in ("train", "val", "test")},
        )
        return context


def task_detail_context(request: HttpRequest, task: Task, assign_form: TaskAssignForm | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"task": task, "splits": task.splits.all(), "instructions": task.instructions.all()}
    if roles.is_admin(request.user):
        context["assign_form"] = assign_form or TaskAssignForm(instance=task)
        context["recent_jobs"] = task.jobs.select_related("created_by")[:5]
    return context


class TaskDetailView(LoginRequiredMixin, TemplateView):
    """A task's facts, splits and instructions; admins also assign its writer and reviewer here."""

    template_name = "annotator/task_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        task = get_object_or_404(Task.objects.select_related("writer", "reviewer"), slug=kwargs["slug"])
        context.update(task_detail_context(self.request, task))
        return context


class TaskAssignView(AdminRequiredMixin, View):
    """POST from the task page's assignment form. An invalid choice re-renders the page with the message."""

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        task = get_object_or_404(Task.objects.select_related("writer", "reviewer"), slug=slug)
        form = TaskAssignForm(request.POST, instance=task)
        if not form.is_valid():
            context = task_detail_context(request, Task.objects.get(pk=task.pk), assign_form=form)
            return render(request, "annotator/task_detail.html", context, status=400)
        task = form.save()
        messages.success(
            request, f"{task.slug}: writer {task.writer or 'nobody'}, reviewer {task.reviewer or 'nobody'}."
        )
        return redirect("task-detail", slug=task.slug)
