from django.contrib import admin

from .models import Instruction, InstructionEvent, Task, TaskSplit


class TaskSplitInline(admin.TabularInline):
    model = TaskSplit
    extra = 0
    fields = ["split", "qc_status", "approved_by", "approved_at"]
    readonly_fields = ["approved_by", "approved_at"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "group", "language", "held_in", "translated", "writer", "reviewer", "pool_status"]
    list_filter = ["group", "held_in", "translated", "language", "pool_status"]
    list_editable = ["writer", "reviewer"]
    search_fields = ["slug", "name"]
    inlines = [TaskSplitInline]


@admin.register(TaskSplit)
class TaskSplitAdmin(admin.ModelAdmin):
    list_display = ["task", "split", "qc_status", "sample_count", "approved_by", "approved_at"]
    list_filter = ["split", "qc_status"]
    readonly_fields = TaskSplit.COUNTERS  # kept by the writes that change samples; `manage.py recount` rebuilds


@admin.register(Instruction)
class InstructionAdmin(admin.ModelAdmin):
    list_display = ["task", "position", "text", "author", "updated_at"]
    list_filter = ["task__group"]
    search_fields = ["text", "task__slug"]


@admin.register(InstructionEvent)
class InstructionEventAdmin(admin.ModelAdmin):
    list_display = ["task", "action", "actor", "at"]
    list_filter = ["action"]

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
