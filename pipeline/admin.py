from typing import Any

from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from pipeline.models import Export, Image, Job, ParaphraseCache, Sample, SampleImage
from pipeline.samples import counts


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["sha256", "format", "width", "height", "size_bytes", "derived_from"]
    search_fields = ["sha256"]
    raw_id_fields = ["derived_from"]


class SampleImageInline(admin.TabularInline):
    model = SampleImage
    extra = 0
    raw_id_fields = ["image"]


@admin.register(Sample)
class SampleAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "split", "source_id", "paraphrase_state", "qc_state"]
    list_filter = ["split", "paraphrase_state", "qc_state", "task"]
    search_fields = ["source_id"]
    raw_id_fields = ["instruction", "import_job"]
    inlines = [SampleImageInline]
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Sample | None = None) -> list[str]:
        # Where a sample sits and its states are counted on its split (pipeline.samples.counts): they
        # change through the import, paraphrase and QC steps, which keep the counters, not here.
        return ["task", "split", "paraphrase_state", "qc_state"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Sample, form: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if not change:
                counts.inserted([obj])

    def delete_model(self, request: HttpRequest, obj: Sample) -> None:
        counts.delete_samples(Sample.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Sample]) -> None:
        counts.delete_samples(queryset)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "done", "total", "created_by", "created_at", "finished_at"]
    list_filter = ["kind", "status"]
    readonly_fields = ["heartbeat_at", "started_at", "finished_at", "celery_task_id", "attempts"]


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = ["name", "created_by", "created_at", "completed_at", "file_count", "size_bytes"]


@admin.register(ParaphraseCache)
class ParaphraseCacheAdmin(admin.ModelAdmin):
    list_display = ["key", "model", "prompt_version", "tokens_in", "tokens_out", "created_at"]
