from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q

from . import roles
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

    def formfield_for_foreignkey(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        """Writer and reviewer offer only members of their role group (plus whoever a task has now: the
        change list edits many tasks with one set of choices). Task.clean names the missing role."""
        if db_field.name not in roles.ASSIGNMENT_ROLES:
            return super().formfield_for_foreignkey(db_field, request, **kwargs)
        group = roles.ASSIGNMENT_ROLES[db_field.name][0]
        assigned = Task.objects.filter(**{f"{db_field.name}__isnull": False}).values(db_field.name)
        kwargs["queryset"] = (
            get_user_model()
            .objects.filter(Q(is_active=True, groups__name=group) | Q(pk__in=assigned))
            .distinct()
            .order_by("username")
        )
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        field.error_messages["invalid_choice"] = (
            f"That user is not in the {group} group: only {group}s can be a task's {db_field.name}."
        )
        return field


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
