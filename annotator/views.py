from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views import View
from django.views.generic import TemplateView
from django.views.i18n import set_language

from .composition import SPLIT_COLOURS, composition_bars, group_rows
from .language import remember, supported
from .models import Task


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


class LanguageView(View):
    """POST from the header's switcher: Django's set_language (cookie, redirect back), and for a signed-in
    person the choice is stored on the user too."""

    def post(self, request: HttpRequest) -> HttpResponse:
        code = supported(request.POST.get("language"))
        if code is None:
            return HttpResponseBadRequest("Unknown interface language.")
        remember(request, code)
        return set_language(request)
