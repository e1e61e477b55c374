"""The samples browser: filtered lists by keyset pages, and one sample."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import DetailView

from annotator.permissions import AdminRequiredMixin
from pipeline.samples import removal
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


class SampleDeleteView(AdminRequiredMixin, View):
    """POST: delete a split's samples (task + split) or an import's (import_job) as a Job."""

    def post(self, request: HttpRequest) -> HttpResponse:
        params = {key: request.POST.get(key, "").strip() for key in ("task", "split", "import_job")}
        if params["import_job"] and not params["import_job"].isdigit():
            params["import_job"] = "0"
        if params["import_job"]:
            params["import_job"] = int(params["import_job"])
        try:
            job = removal.start_removal(params, request.user)
        except removal.RemovalError as exc:
            messages.error(request, str(exc))
            return redirect("sample-list")
        messages.success(request, f"Deleting {removal.describe(params)} as job #{job.pk}.")
        return redirect("job-detail", pk=job.pk)
