from django.contrib import admin

from .models import TrainingRun


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ("id", "config_name", "export_name", "status", "step", "total_steps", "final_loss", "created_at")
    list_filter = ("status", "config_name")
    readonly_fields = ("job", "export", "export_digest", "config", "checkpoints", "info")
