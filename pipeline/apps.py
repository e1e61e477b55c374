from typing import Any

from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "pipeline"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from annotator.signals import pool_gained_instructions

        pool_gained_instructions.connect(draw_for_new_pool, dispatch_uid="pipeline-draw-missing-instructions")


def draw_for_new_pool(sender: Any, task_id: int, **kwargs: Any) -> None:
    """Samples imported before the task had instructions get one as soon as its pool gains some."""
    from pipeline.samples.selection import draw_missing_instructions

    draw_missing_instructions(task_id)
