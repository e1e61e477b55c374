from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import DetailView, ListView

from annotator.permissions import AdminRequiredMixin

from .access import visible_jobs
from .jobs import request_cancel


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
