"""Import pages: start an import (upload or server folder), follow it, its rejected rows, run it again."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import DetailView

from annotator.models import Task
from annotator.permissions import AdminRequiredMixin
from pipeline.imports.adapters import ADAPTERS, ImportInputError, adapter_for_task, file_lines
from pipeline.imports.forms import ImportForm
from pipeline.imports.importer import start_import
from pipeline.imports.uploads import start_import_from_upload
from pipeline.jobs.access import visible_jobs
from pipeline.models import JobKind, Sample


def import_jobs(user: Any) -> Any:
    return visible_jobs(user).filter(kind=JobKind.IMPORT)


class ImportListView(AdminRequiredMixin, View):
    """Start an import (upload or server folder) and follow the recent ones."""

    template_name = "pipeline/imports/list.html"

    def context(self, form: ImportForm) -> dict[str, Any]:
        tasks = [(task, adapter_for_task(task.slug)) for task in Task.objects.order_by("slug")]
        return {
            "form": form,
            "adapters": ADAPTERS.values(),
            "task_adapters": tasks,
            # For the page's script: choosing a task picks its adapter and shows the files it expects.
            "task_adapter_map": {
                task.slug: {"adapter": adapter.name, "files": file_lines(adapter)} for task, adapter in tasks if adapter
            },
            "jobs": import_jobs(self.request.user)[:25],
            "import_root": settings.IMPORT_ROOT,
        }

    def get(self, request: HttpRequest) -> HttpResponse:
        """`?task=<slug>` starts the form on that task with its adapter chosen."""
        initial: dict[str, Any] = {}
        adapter = adapter_for_task(request.GET.get("task", ""))
        if adapter is not None:
            initial = {"task": request.GET["task"], "adapter": adapter.name}
        return render(request, self.template_name, self.context(ImportForm(initial=initial)))

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
                task = form.cleaned_data["task"]
                if not task.pool_size:
                    messages.warning(request, no_instructions_note(task.slug))
                return redirect("import-detail", pk=job.pk)
        return render(request, self.template_name, self.context(form), status=400)


def no_instructions_note(slug: str) -> str:
    return (
        f"{slug} has no instructions yet: the imported samples get one drawn automatically as soon as its "
        "writer adds instructions to the pool."
    )


class ImportDetailView(AdminRequiredMixin, DetailView):
    template_name = "pipeline/imports/detail.html"
    context_object_name = "job"

    def get_queryset(self) -> Any:
        return import_jobs(self.request.user)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["samples_kept"] = Sample.objects.filter(import_job=self.object).count()
        task = self.object.task
        if task is not None and not task.instructions.exists():
            context["instructions_note"] = no_instructions_note(task.slug)
        return context


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
