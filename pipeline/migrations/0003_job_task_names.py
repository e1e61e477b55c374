"""The Celery tasks moved into their steps' packages (pipeline.tasks.X -> pipeline.<step>.tasks.X).

Stored jobs name their task by dotted path; this rewrites the names so that queued jobs are sent
under the new names (by the sweep or a worker start) and finished ones can be run again.
"""

from django.db import migrations

RENAMED = {
    "pipeline.tasks.build_demo_dataset": "pipeline.demo.tasks.build_demo_dataset",
    "pipeline.tasks.export_dataset": "pipeline.export.tasks.export_dataset",
    "pipeline.tasks.import_source": "pipeline.imports.tasks.import_source",
    "pipeline.tasks.paraphrase_answers": "pipeline.paraphrase.tasks.paraphrase_answers",
    "pipeline.tasks.paraphrase_chunk": "pipeline.paraphrase.tasks.paraphrase_chunk",
}


def _rename(apps, mapping):
    Job = apps.get_model("pipeline", "Job")
    for old, new in mapping.items():
        Job.objects.filter(task_name=old).update(task_name=new)


def forwards(apps, schema_editor):
    _rename(apps, RENAMED)


def backwards(apps, schema_editor):
    _rename(apps, {new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0002_paraphrase_budget")]

    operations = [migrations.RunPython(forwards, backwards)]
