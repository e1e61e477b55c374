from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import DetailView, ListView

from annotator import roles
from annotator.permissions import AdminRequiredMixin

from .access import listed_jobs, visible_jobs
from .adapters import ADAPTERS, ImportInputError
from .browse import filtered_samples, keyset_page
from .forms import ImportForm, SampleFilterForm
from .images import ALLOWED_FORMATS
from .importing import start_import
from .jobs import request_cancel
from .models import Image, JobKind
from .uploads import start_import_from_upload

CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif", "BMP": "image/bmp"}


class ImageFileView(LoginRequiredMixin, View):
    """Serves a stored image by its sha256 to people with a role. Content-addressed, so cached forever."""

    def get(self, request: HttpRequest, sha256: str) -> HttpResponse:
        if not roles.roles_of(request.user):
            raise Http404
        image = get_object_or_404(Image, sha256=sha256)
        if image.format not in ALLOWED_FORMATS:
            raise Http404
        response = FileResponse(default_storage.open(image.file.name, "rb"), content_type=CONTENT_TYPES[image.format])
        response["Cache-Control"] = "private, max-age=31536000, immutable"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class JobListView(AdminRequiredMixin, ListView):
    template_name = "pipeline/job_list.html"
    context_object_name = "jobs"
    paginate_by = 50

    def get_queryset(self) -> Any:
        return listed_jobs(self.request.user)


class JobDetailView(LoginRequiredMixin, DetailView):
    template_name = "pipeline/job_detail.html"
    context_object_name = "job"

    def get_queryset(self) -> Any:
        return visible_jobs(self.request.user)


class JobCancelView(AdminRequiredMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = get_object_or_404(visible_jobs(request.user), pk=pk)
        request_cancel(job)
        messages.info(request, f"Cancellation of job #{job.pk} requested.")
        return redirect("job-detail", pk=job.pk)


# ---- imports -------------------------------------------------------------------------------


def import_jobs(user: Any) -> Any:
    return visible_jobs(user).filter(kind=JobKind.IMPORT)


class ImportListView(AdminRequiredMixin, View):
    """Start an import (upload or server folder) and follow the recent ones."""

    template_name = "pipeline/import_list.html"

    def context(self, form: ImportForm) -> dict[str, Any]:
        return {
            "form": form,
            "adapters": ADAPTERS.values(),
            "jobs": import_jobs(self.request.user)[:25],
            "import_root": settings.IMPORT_ROOT,
        }

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name, self.context(ImportForm()))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data.get("upload")
            try:
                job = start_import_from_upload(form.params(), upload, request.user)
            except ImportInputError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Import job #{job.pk} queued.")
                return redirect("import-detail", pk=job.pk)
        return render(request, self.template_name, self.context(form), status=400)


class ImportDetailView(AdminRequiredMixin, DetailView):
    template_name = "pipeline/import_detail.html"
    context_object_name = "job"

    def get_queryset(self) -> Any:
        return import_jobs(self.request.user)


class ImportReportView(AdminRequiredMixin, View):
    """The full list of rejected rows of an import, as CSV."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = get_object_or_404(import_jobs(request.user), pk=pk)
        name = (job.result or {}).get("report")
        if not name or not default_storage.exists(name):
            raise Http404
        return FileResponse(
            default_storage.open(name, "rb"),
            as_attachment=True,
            filename=f"import-{job.pk}-rejected.csv",
            content_type="text/csv",
        )


class ImportRetryView(AdminRequiredMixin, View):
    """Run an ended import again with the same parameters: committed rows are skipped, the rest resumes."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = get_object_or_404(import_jobs(request.user), pk=pk)
        if not job.is_terminal:
            messages.error(request, f"Import job #{job.pk} is still {job.status}.")
            return redirect("import-detail", pk=job.pk)
        try:
            new = start_import(job.params, request.user)
        except ImportInputError as exc:
            messages.error(request, str(exc))
            return redirect("import-detail", pk=job.pk)
        messages.success(request, f"Import job #{new.pk} queued (re-run of #{job.pk}).")
        return redirect("import-detail", pk=new.pk)


# ---- samples browser -----------------------------------------------------------------------

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
            "pipeline/sample_list.html",
            {"form": form, "page": page, "query": kept.urlencode()},
        )


class SampleDetailView(AdminRequiredMixin, DetailView):
    template_name = "pipeline/sample_detail.html"
    context_object_name = "sample"

    def get_queryset(self) -> Any:
        return filtered_samples().select_related("import_job")
