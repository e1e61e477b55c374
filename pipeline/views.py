from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import DetailView, ListView

from annotator import roles
from annotator.permissions import AdminRequiredMixin

from .access import visible_jobs
from .images import ALLOWED_FORMATS
from .jobs import request_cancel
from .models import Image

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
        return visible_jobs(self.request.user)


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
