"""The samples browser: filtered lists by keyset pages, and one sample."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View
from django.views.generic import DetailView

from annotator.permissions import AdminRequiredMixin
from pipeline.samples.browse import filtered_samples, keyset_page
from pipeline.samples.forms import SampleFilterForm

SAMPLES_PER_PAGE = 25


class SampleListView(AdminRequiredMixin, View):
    """Samples filtered by task, split, paraphrase and QC state; keyset pages, never a COUNT."""

    def get(self, request: HttpRequest) -> HttpResponse:
        form = SampleFilterForm(request.GET)
        filters: dict[str, Any] = form.cleaned_data if form.is_valid() else {}
        samples = filtered_samples(
            task=filters.get("task"),
            split=filters.get("split", ""),
            paraphrase_state=filters.get("paraphrase_state", ""),
            qc_state=filters.get("qc_state", ""),
        )
        page = keyset_page(samples, filters.get("after"), filters.get("before"), SAMPLES_PER_PAGE)
        kept = request.GET.copy()
        for key in ("after", "before"):
            kept.pop(key, None)
        return render(
            request,
            "pipeline/samples/list.html",
            {"form": form, "page": page, "query": kept.urlencode()},
        )


class SampleDetailView(AdminRequiredMixin, DetailView):
    template_name = "pipeline/samples/detail.html"
    context_object_name = "sample"

    def get_queryset(self) -> Any:
        return filtered_samples().select_related("import_job")
