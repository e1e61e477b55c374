"""Job pages: the list (admins) and one job's live progress."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import DetailView, ListView

from annotator.permissions import AdminRequiredMixin
from pipeline.jobs.access import listed_jobs, visible_jobs
from pipeline.jobs.runner import request_cancel


class JobListView(AdminRequiredMixin, ListView):
    template_name = "pipeline/jobs/list.html"
    context_object_name = "jobs"
    paginate_by = 50

    def get_queryset(self) -> Any:
        return listed_jobs(self.request.user)


class JobDetailView(LoginRequiredMixin, DetailView):
    template_name = "pipeline/jobs/detail.html"
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
