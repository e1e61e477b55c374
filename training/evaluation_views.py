"""Evaluation reports (admins only): results per evaluation, comparisons, tables as CSV/Markdown,
predictions beside references, judge outcomes (Figure 4) and ablation curves (Figures 5-6)."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from .evaluation import charts, tables
from .evaluation.ablate import curve
from .models import AblationSeries, Evaluation, JudgeComparison, JudgeRecord, Verdict
from .views import AdminOnlyMixin as AdminOnly

FORMATS = {
    "csv": ("text/csv; charset=utf-8", tables.to_csv),
    "md": ("text/markdown; charset=utf-8", tables.to_markdown),
}


def _ids(request: HttpRequest) -> list[int]:
    raw = request.GET.getlist("ids") or (request.GET.get("ids", "").split(",") if request.GET.get("ids") else [])
    ids = []
    for value in raw:
        for part in str(value).split(","):
            if part.strip().isdigit():
                ids.append(int(part))
    return list(dict.fromkeys(ids))


def _chart(evaluations: list[Evaluation]) -> Any:
    table = tables.task_table(evaluations)
    if not table.rows:
        return ""
    return charts.grouped_bars(
        [r.label for r in table.rows],
        [(f"#{ev.pk} {ev.name}", [r.values[i + 1] for r in table.rows]) for i, ev in enumerate(evaluations)],
        "ROUGE-L per task",
    )


def _download(table: tables.Table, fmt: str, filename: str) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404
    content_type, render_table = FORMATS[fmt]
    response = HttpResponse(render_table(table), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


def _table(evaluations: list[Evaluation], table_id: str) -> tables.Table:
    for table in tables.all_tables(evaluations):
        if table.id == table_id:
            return table
    raise Http404


class EvaluationListView(AdminOnly, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        context = {
            "evaluations": Evaluation.objects.select_related("job", "export")[:200],
            "comparisons": JudgeComparison.objects.select_related("evaluation_a", "evaluation_b", "job")[:100],
            "series": AblationSeries.objects.select_related("job")[:100],
        }
        return render(request, "training/evaluation_list.html", context)


class EvaluationDetailView(AdminOnly, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        evaluation = get_object_or_404(Evaluation.objects.select_related("job", "export"), pk=pk)
        context = {"evaluation": evaluation, "tables": tables.all_tables([evaluation]), "chart": _chart([evaluation])}
        return render(request, "training/evaluation_detail.html", context)


class EvaluationTableView(AdminOnly, View):
    def get(self, request: HttpRequest, pk: int, table: str, fmt: str) -> HttpResponse:
        evaluation = get_object_or_404(Evaluation, pk=pk)
        return _download(_table([evaluation], table), fmt, f"evaluation-{pk}-{table}")


class PredictionListView(AdminOnly, View):
    """Predictions beside their references, filtered by task, lowest ROUGE-L first if asked."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        evaluation = get_object_or_404(Evaluation, pk=pk)
        rows = evaluation.predictions.all()
        task = request.GET.get("task", "")
        if task:
            rows = rows.filter(task=task)
        order = request.GET.get("order", "")
        if order in ("rouge_l", "-rouge_l"):
            rows = rows.order_by(order, "id")
        page = Paginator(rows, 50).get_page(request.GET.get("page"))
        tasks = sorted((evaluation.results.get("tasks") or {}).keys())
        context = {"evaluation": evaluation, "page": page, "task": task, "tasks": tasks, "order": order}
        return render(request, "training/prediction_list.html", context)


class CompareView(AdminOnly, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        ids = _ids(request)
        found = {ev.pk: ev for ev in Evaluation.objects.filter(pk__in=ids)}
        evaluations = [found[i] for i in sorted(ids) if i in found]  # oldest first, whatever the order asked
        context = {
            "evaluations": evaluations,
            "ids": ",".join(str(ev.pk) for ev in evaluations),
            "tables": tables.all_tables(evaluations) if evaluations else [],
            "chart": _chart(evaluations) if evaluations else "",
            "choices": Evaluation.objects.all()[:200],
        }
        return render(request, "training/compare.html", context)


class CompareTableView(AdminOnly, View):
    def get(self, request: HttpRequest, table: str, fmt: str) -> HttpResponse:
        ids = _ids(request)
        found = {ev.pk: ev for ev in Evaluation.objects.filter(pk__in=ids)}
        evaluations = [found[i] for i in sorted(ids) if i in found]  # oldest first, whatever the order asked
        return _download(_table(evaluations, table), fmt, f"comparison-{table}")


class JudgeDetailView(AdminOnly, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        comparison = get_object_or_404(
            JudgeComparison.objects.select_related("evaluation_a", "evaluation_b", "job"), pk=pk
        )
        counts = comparison.counts or {}
        ours = {
            "label": f"#{comparison.evaluation_a.pk} {comparison.evaluation_a.name} vs "
            f"#{comparison.evaluation_b.pk} {comparison.evaluation_b.name}",
            "wins": counts.get("wins", 0),
            "ties": counts.get("ties", 0),
            "losses": counts.get("losses", 0),
        }
        records = JudgeRecord.objects.filter(comparison=comparison)
        verdict = request.GET.get("verdict", "")
        if verdict in Verdict.values:
            records = records.filter(verdict=verdict)
        context = {
            "comparison": comparison,
            "chart": charts.judge_bars([ours, *tables.published()["figure4"]]),
            "page": Paginator(records, 50).get_page(request.GET.get("page")),
            "verdict": verdict,
            "verdicts": Verdict.choices,
        }
        return render(request, "training/judge_detail.html", context)


class AblationDetailView(AdminOnly, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        series = get_object_or_404(AblationSeries.objects.select_related("job"), pk=pk)
        context = {
            "series": series,
            "chart": charts.ablation_svg(series),
            "points": series.points.select_related("evaluation"),
            "curve": curve(series),
        }
        return render(request, "training/ablation_detail.html", context)


class RunEvaluateView(AdminOnly, View):
    """The run page's button: evaluate the run's last checkpoint on a split of its export."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        from django.contrib import messages

        from .evaluation.run import EvaluationError, start_evaluation
        from .models import TrainingRun

        run = get_object_or_404(TrainingRun, pk=pk)
        split = request.POST.get("split") or "val"
        try:
            evaluation = start_evaluation(
                export_value=run.export_path,
                split=split,
                run_id=run.pk,
                user=request.user,
                options={"chinese_priming": bool(request.POST.get("chinese_priming"))},
            )
        except EvaluationError as exc:
            messages.error(request, f"Cannot evaluate run #{run.pk}: {exc}")
            return redirect("training-run-detail", pk=run.pk)
        messages.success(request, f"Evaluation #{evaluation.pk} queued (job #{evaluation.job_id}).")
        return redirect("evaluation-detail", pk=evaluation.pk)
