"""Stage I web pages: the instruction pool editor's actions, live statistics, import/export, Table 2 page.

Views are thin: they find the task through annotator.access (others' tasks are 404) and call the
rules in annotator.pool, which the API and the management commands use too.
"""

from __future__ import annotations

import csv
import hashlib
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from . import pool, stats
from .access import pool_tasks
from .models import Group, Instruction, Task
from .permissions import AdminRequiredMixin
from .stats_chart import PAPER_TABLE_2, distance_chart


def pool_entries(task: Task) -> list[stats.PoolEntry]:
    return [stats.PoolEntry(n, i.text, i.pk) for n, i in enumerate(pool.ordered(task), start=1)]


def _task_url(task: Task, anchor: str = "pool", **query: Any) -> str:
    url = reverse("task-detail", args=[task.slug])
    if query:
        url += "?" + urlencode(query)
    return f"{url}#{anchor}"


class PoolActionView(LoginRequiredMixin, View):
    """POST one change to a pool. Rule violations come back as a message, and the text typed is kept."""

    success_message = ""

    def act(self, request: HttpRequest, task: Task, pk: int | None) -> str | None:
        raise NotImplementedError

    def keep(self, request: HttpRequest, pk: int | None) -> dict[str, Any]:
        """Query parameters that put what the person typed back into the form after an error."""
        return {}

    def post(self, request: HttpRequest, slug: str, pk: int | None = None) -> HttpResponse:
        task = get_object_or_404(pool_tasks(request.user), slug=slug)
        try:
            message = self.act(request, task, pk)
        except pool.NotAllowed as exc:
            raise PermissionDenied(str(exc)) from exc
        except pool.PoolError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(_task_url(task, **self.keep(request, pk)))
        if message:
            messages.success(request, message)
        return HttpResponseRedirect(_task_url(task))


class InstructionAddView(PoolActionView):
    def act(self, request: HttpRequest, task: Task, pk: int | None) -> str:
        instruction = pool.add_instruction(task, request.user, request.POST.get("text", ""))
        entries = pool_entries(task)
        number = next(e.number for e in entries if e.pk == instruction.pk)
        others = [e for e in entries if e.pk != instruction.pk]
        for warning in stats.draft_warnings(instruction.text, others, task.language):
            messages.warning(request, f"#{number}: {warning['message']}")
        return f"Added #{number}. The pool now has {len(entries)} instruction{'s' if len(entries) != 1 else ''}."

    def keep(self, request: HttpRequest, pk: int | None) -> dict[str, Any]:
        return {"draft": request.POST.get("text", "")}


class InstructionEditView(PoolActionView):
    def act(self, request: HttpRequest, task: Task, pk: int | None) -> str:
        pool.edit_instruction(task, request.user, pk, request.POST.get("text", ""))
        return "Instruction saved."

    def keep(self, request: HttpRequest, pk: int | None) -> dict[str, Any]:
        return {"edit": pk, "draft": request.POST.get("text", "")}


class InstructionDeleteView(PoolActionView):
    def act(self, request: HttpRequest, task: Task, pk: int | None) -> str:
        pool.delete_instruction(task, request.user, pk)
        return "Instruction deleted (it stays in the history below)."


class InstructionMoveView(PoolActionView):
    def act(self, request: HttpRequest, task: Task, pk: int | None) -> None:
        pool.move(task, request.user, pk, -1 if request.POST.get("direction") == "up" else 1)


class PoolSubmitView(PoolActionView):
    def act(self, request: HttpRequest, task: Task, pk: int | None) -> str:
        pool.submit(task, request.user)
        return "Submitted. The pool is locked; an admin can return it to you with comments."


class PoolReturnView(PoolActionView):
    def act(self, request: HttpRequest, task: Task, pk: int | None) -> str:
        pool.return_pool(task, request.user, request.POST.get("comment", ""))
        return f"Returned to {task.writer or 'its writer'} with your comment."


class PoolUnlockView(PoolActionView):
    def act(self, request: HttpRequest, task: Task, pk: int | None) -> str:
        pool.unlock(task, request.user)
        return "Unlocked: the writer can edit the pool again."


class PoolLiveStatsView(LoginRequiredMixin, View):
    """JSON for the editor as the person types: ?draft=<text>[&editing=<instruction id>]."""

    def get(self, request: HttpRequest, slug: str) -> JsonResponse:
        task = get_object_or_404(pool_tasks(request.user), slug=slug)
        editing = request.GET.get("editing") or None
        try:
            editing_pk = int(editing) if editing else None
        except ValueError:
            return JsonResponse({"error": "editing must be an instruction id"}, status=400)
        draft = request.GET.get("draft", "")[: pool.MAX_LENGTH]
        return JsonResponse(stats.live_stats(pool_entries(task), task.language, draft, editing_pk))


class InstructionExportView(AdminRequiredMixin, View):
    """Download the pool as M3IT's instructions.json."""

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        task = get_object_or_404(Task, slug=slug)
        response = HttpResponse(pool.export_json(task), content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{task.slug}-instructions.json"'
        return response


class InstructionImportView(AdminRequiredMixin, View):
    """Replace the pool with an uploaded instructions.json (all or nothing)."""

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        task = get_object_or_404(Task, slug=slug)
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, "Choose an instructions.json file to import.")
            return HttpResponseRedirect(_task_url(task, "import"))
        if upload.size > 1_000_000:
            messages.error(request, "That file is over 1 MB; an instructions.json is a short list of strings.")
            return HttpResponseRedirect(_task_url(task, "import"))
        try:
            texts = pool.parse_instructions_json(upload.read())
            outcome = pool.import_pool(task, request.user, texts)
        except pool.PoolError as exc:
            messages.error(request, f"Nothing was imported: {exc}")
            return HttpResponseRedirect(_task_url(task, "import"))
        messages.success(
            request,
            f"Imported {len(texts)} instructions from {upload.name}: {outcome['created']} new, "
            f"{outcome['kept']} kept, {outcome['removed']} removed.",
        )
        return HttpResponseRedirect(_task_url(task))


def current_report() -> stats.Report:
    """The Table 2 report of the instructions in the database, cached until an instruction or a task changes
    (the pairwise distances are quadratic in the number of instructions)."""
    version = Instruction.objects.aggregate(n=Count("id"), last=Max("id"), changed=Max("updated_at"))
    tasks_changed = Task.objects.aggregate(changed=Max("updated_at"))["changed"]
    state = "|".join(str(v) for v in (version["n"], version["last"], version["changed"], tasks_changed))
    key = "instruction-report:" + hashlib.sha256(state.encode()).hexdigest()
    report = cache.get(key)
    if report is None:
        loaded = stats.load_items()
        report = stats.instruction_report(loaded.items, loaded.group_labels, loaded.task_labels)
        cache.set(key, report, timeout=3600)
    return report


def _ordered_groups(report: stats.Report) -> list[stats.Row]:
    order = {key: i for i, (key, _) in enumerate(Group.choices)}
    return sorted(report.groups, key=lambda row: order.get(row.key, len(order)))


class InstructionStatsView(LoginRequiredMixin, TemplateView):
    """Table 2 of the paper, computed on whatever instructions are in the database."""

    template_name = "annotator/instruction_stats.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        report = current_report()
        groups = _ordered_groups(report)
        context.update(
            report=report,
            groups=groups,
            tasks=sorted(report.tasks, key=lambda row: (row.group, row.key)),
            chart=distance_chart([*groups, report.overall]) if report.overall.instructions else None,
            paper=PAPER_TABLE_2,
            visible=set(pool_tasks(self.request.user).values_list("slug", flat=True)),
            group_labels=dict(Group.choices),
        )
        return context


CSV_FIELDS = [
    "level",
    "key",
    "label",
    "group",
    "language",
    "instructions",
    "tokens_mean",
    "tokens_sd",
    "within_task_pairs",
    "within_task_edit_distance_mean",
    "within_task_edit_distance_sd",
    "across_task_pairs",
    "across_task_edit_distance_mean",
    "across_task_edit_distance_sd",
]


def _csv_row(level: str, row: stats.Row) -> list[object]:
    def fmt(value: float | None) -> str:
        return "" if value is None else f"{value:.4f}"

    return [
        level,
        row.key,
        row.label,
        row.group,
        row.language,
        row.instructions,
        fmt(row.tokens.mean),
        fmt(row.tokens.sd),
        row.within.n,
        fmt(row.within.mean),
        fmt(row.within.sd),
        row.across.n,
        fmt(row.across.mean),
        fmt(row.across.sd),
    ]


class InstructionStatsCsvView(LoginRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        report = current_report()
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="instruction-statistics.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_FIELDS)
        writer.writerow(_csv_row("all", report.overall))
        for row in _ordered_groups(report):
            writer.writerow(_csv_row("group", row))
        for row in sorted(report.tasks, key=lambda row: (row.group, row.key)):
            writer.writerow(_csv_row("task", row))
        return response


def describe_event(event: Any) -> dict[str, str]:
    """Before and after of one history entry, as short text for the task page."""
    before, after = event.before or {}, event.after or {}
    if "order" in before and "order" in after:
        moved = next((pk for old, pk in zip(before["order"], after["order"], strict=False) if old != pk), None)
        if moved is None:
            return {"before": "", "after": ""}
        return {
            "before": f"instruction {moved} at #{before['order'].index(moved) + 1}",
            "after": f"at #{after['order'].index(moved) + 1}",
        }

    def side(value: dict[str, Any]) -> str:
        if "text" in value:
            return value["text"]
        if "instructions" in value:
            return f"{len(value['instructions'])} instructions"
        if "status" in value:
            return str(value["status"])
        return ""

    return {"before": side(before), "after": side(after)}
