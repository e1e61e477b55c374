"""Pages that gather every stage: each role's home page and the task page (facts, samples, pool, jobs).

They sit above the apps they read (annotator, pipeline, qc), so that annotator imports none of those.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import TemplateView

from annotator import pool, roles, stats
from annotator.access import can_read_pool, can_write
from annotator.forms import TaskAssignForm
from annotator.models import Task
from annotator.permissions import AdminRequiredMixin
from annotator.stage1_views import describe_event, pool_entries
from home import dashboard
from pipeline.models import Job


class HomeView(LoginRequiredMixin, TemplateView):
    """The landing page: each role sees its own work (see home/dashboard.py)."""

    template_name = "home/home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        user = self.request.user
        context = super().get_context_data(**kwargs)
        if roles.is_annotator(user):
            context["writing"] = dashboard.writing_tasks(user)
            context["sent_back"] = dashboard.sent_back(user)
        if roles.is_reviewer(user):
            context["reviewing"] = dashboard.review_work(user)
        if roles.is_admin(user):
            context["overview"] = dashboard.admin_overview()
            # Parts of a larger job (paraphrase chunks) show on their parent's page, not here.
            recent = Job.objects.exclude(params__has_key="parent").select_related("created_by", "task")
            context["recent_jobs"] = recent[:10]
        return context


SAMPLES_ON_TASK_PAGE = 6


def task_detail_context(request: HttpRequest, task: Task, assign_form: TaskAssignForm | None = None) -> dict[str, Any]:
    """What the task page shows: facts, a few real samples, the instruction pool (the Stage I editor for its
    writer), its history; admins also get the assignment form and the task's jobs."""
    user = request.user
    readable = can_read_pool(user, task)
    entries = pool_entries(task) if readable else []
    summary = stats.pool_summary(entries, task.language)
    warnings = stats.pool_warnings(entries, task.language)
    instructions = pool.ordered(task) if readable else []
    rows = [
        {"instruction": i, "number": e.number, "tokens": s["tokens"], "warnings": warnings[e.number]}
        for i, e, s in zip(instructions, entries, summary["instructions"], strict=True)
    ]
    editing = request.GET.get("edit", "")
    splits = list(task.splits.all())
    context: dict[str, Any] = {
        "task": task,
        "splits": splits,
        "can_read_pool": readable,
        "rows": rows,
        "summary": summary,
        "min_instructions": pool.MIN_INSTRUCTIONS,
        "missing": max(pool.MIN_INSTRUCTIONS - len(rows), 0),
        "can_edit": can_write(user, task) and not task.pool_locked,
        "is_writer": can_write(user, task),
        "is_admin": roles.is_admin(user),
        "draft": "" if editing else request.GET.get("draft", ""),
        "editing": int(editing) if editing.isdigit() else None,
        "edit_draft": request.GET.get("draft", "") if editing else "",
        "samples": task.samples.select_related("instruction").prefetch_related("sample_images__image")[
            :SAMPLES_ON_TASK_PAGE
        ],
        "sample_total": sum(split.sample_count for split in splits),  # counters, not a COUNT over samples
        "events": [(e, describe_event(e)) for e in task.instruction_events.select_related("actor")[:20]]
        if readable
        else [],
    }
    if roles.is_admin(user):
        context["assign_form"] = assign_form or TaskAssignForm(instance=task)
        context["assignment_warnings"] = [
            problem
            for field in roles.ASSIGNMENT_ROLES
            if (problem := roles.assignment_problem(getattr(task, field), field))
        ]
        context["recent_jobs"] = task.jobs.select_related("created_by", "task")[:5]
    return context


class TaskDetailView(LoginRequiredMixin, TemplateView):
    """A task's facts, samples and instruction pool; admins also assign its writer and reviewer here.
    Everyone signed in sees the facts and samples; the pool only its writer, its reviewer and admins."""

    template_name = "home/task_detail.html"

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
            return render(request, "home/task_detail.html", context, status=400)
        task = form.save()
        messages.success(
            request, f"{task.slug}: writer {task.writer or 'nobody'}, reviewer {task.reviewer or 'nobody'}."
        )
        return redirect("task-detail", slug=task.slug)
