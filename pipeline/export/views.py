"""Pages for exports (admins only): start and list, detail, download, single files, delete."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import DetailView, ListView

from annotator.models import QCStatus, Split, Task
from annotator.permissions import AdminRequiredMixin
from pipeline.export import writer as exports
from pipeline.export.api import archive_response
from pipeline.models import Export


class ExportStartForm(forms.Form):
    tasks = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, error_messages={"required": "Choose at least one task."}
    )
    splits = forms.MultipleChoiceField(
        choices=Split.choices,
        initial=Split.values,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one split."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tasks"].choices = [
            (slug, slug) for slug in Task.objects.order_by("slug").values_list("slug", flat=True)
        ]
        self.fields["tasks"].initial = list(exports.tasks_with_approved_split().values_list("slug", flat=True))


def _exports() -> Any:
    return Export.objects.select_related("job", "created_by")


class ExportListView(AdminRequiredMixin, ListView):
    """Older exports (who, when, from what) and the form to start a new one."""

    template_name = "pipeline/export/list.html"
    context_object_name = "exports"
    paginate_by = 25

    def get_queryset(self) -> Any:
        return _exports()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = kwargs.get("form") or ExportStartForm()
        chosen = set(form["tasks"].value() or [])
        tasks = Task.objects.prefetch_related("splits").order_by("group", "slug")
        context["form"] = form
        context["task_rows"] = [
            {
                "task": task,
                "checked": task.slug in chosen,
                "splits": sorted(task.splits.all(), key=lambda s: Split.values.index(s.split)),
                "approved": any(s.qc_status == QCStatus.APPROVED for s in task.splits.all()),
            }
            for task in tasks
        ]
        return context

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ExportStartForm(request.POST)
        if form.is_valid():
            try:
                export = exports.start_export(request.user, form.cleaned_data["tasks"], form.cleaned_data["splits"])
            except exports.ExportError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Export {export.name} started.")
                return redirect("export-detail", pk=export.pk)
        self.object_list = self.get_queryset()
        return self.render_to_response(self.get_context_data(form=form), status=400)


class ExportDetailView(AdminRequiredMixin, DetailView):
    template_name = "pipeline/export/detail.html"
    context_object_name = "export"

    def get_queryset(self) -> Any:
        return _exports()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        export = self.object
        context["job"] = export.job
        context["path"] = exports.export_dir(export)
        context["files"], context["files_problem"] = exports.manifest_files(export)
        return context


class ExportDownloadView(AdminRequiredMixin, View):
    def get(self, request: HttpRequest, pk: int) -> StreamingHttpResponse:
        export = get_object_or_404(_exports(), pk=pk)
        try:
            return archive_response(export)
        except exports.ExportError as exc:
            raise Http404(str(exc)) from exc


class ExportFileView(AdminRequiredMixin, View):
    """One file of a finished export; only paths listed in its manifest are served."""

    def get(self, request: HttpRequest, pk: int, relative: str) -> FileResponse:
        export = get_object_or_404(_exports(), pk=pk)
        try:
            path = exports.export_file(export, relative)
        except exports.ExportError as exc:
            raise Http404(str(exc)) from exc
        inline = path.suffix in (".json", ".md")
        return FileResponse(
            open(path, "rb"),
            as_attachment=not inline,
            filename=path.name,
            content_type="text/plain; charset=utf-8" if inline else "application/octet-stream",
        )


class ExportDeleteView(AdminRequiredMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        export = get_object_or_404(_exports(), pk=pk)
        try:
            exports.delete_export(export)
        except exports.ExportError as exc:
            messages.error(request, str(exc))
            return redirect("export-detail", pk=pk)
        messages.success(request, f"Export {export.name} deleted.")
        return redirect("export-list")
