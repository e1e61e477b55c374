"""Celery tasks of the pipeline. Each is thin: it wires a Job to a function in a plain module."""

from __future__ import annotations

import time
from typing import Any

from annotator.models import Task

from . import demo, export
from .images import store_image
from .importing import ImportRejected, build_importer
from .jobs import Progress, job_task
from .models import Job, ParaphraseState, Sample, SampleImage
from .selection import draw_instruction


@job_task(queue="default")
def build_demo_dataset(job: Job, progress: Progress) -> dict[str, Any]:
    """Draw the demo samples (shapes VQA or captions) for one task. Resumable: existing ids are skipped."""
    task = Task.objects.get(slug=job.params["task"])
    count = int(job.params.get("count", 20))
    split = job.params.get("split", "train")
    pause = float(job.params.get("seconds_per_sample", 0))
    make = demo.shapes_vqa_record if job.params.get("kind", "vqa") == "vqa" else demo.shapes_caption_record
    existing = set(Sample.objects.filter(task=task, split=split).values_list("source_id", flat=True))
    progress.update(done=0, total=count, message=f"Drawing {count} demo samples for {task.slug}/{split}", force=True)
    created = 0
    for index in range(count):
        record = make(index, seed=int(job.params.get("seed", 0)))
        if record.source_id not in existing:
            image = store_image(record.image_png)
            sample = Sample.objects.create(
                task=task,
                split=split,
                source_id=record.source_id,
                inputs=record.inputs,
                outputs=record.original_output,
                original_output=record.original_output,
                meta=record.meta,
                paraphrase_state=ParaphraseState.PENDING if record.inputs else ParaphraseState.NOT_NEEDED,
                import_job=job,
            )
            SampleImage.objects.create(sample=sample, image=image, position=0)
            draw_instruction(sample)
            created += 1
            if pause:
                time.sleep(pause)
        progress.add(1, created=int(record.source_id not in existing), skipped=int(record.source_id in existing))
    progress.update(message=f"{created} samples created", force=True)
    return {"created": created, "skipped": count - created}


@job_task(queue="default")
def export_dataset(job: Job, progress: Progress) -> dict[str, Any]:
    """Write an export of approved splits (pipeline.export). Resumable after a killed worker."""
    return export.run_export(job.export, progress)


@job_task(queue="default")
def import_source(job: Job, progress: Progress) -> dict[str, Any]:
    """Import one source dataset split (pipeline.importing). Resumable: committed batches are skipped."""
    importer = build_importer(job.params, job=job, progress=progress)
    try:
        return importer.run().as_dict()
    except ImportRejected as exc:
        Job.objects.filter(pk=job.pk).update(result=exc.result)
        raise


@job_task(queue="llm")
def paraphrase_answers(job: Job, progress: Progress) -> dict[str, Any]:
    """Stage II for the chosen splits: fan out chunks on the llm queue and see them through."""
    from . import paraphrase_run

    return paraphrase_run.run_parent(job, progress)


@job_task(queue="llm")
def paraphrase_chunk(job: Job, progress: Progress) -> dict[str, Any]:
    """One chunk of a paraphrase job (any worker may run it; resumable)."""
    from . import paraphrase_run

    return paraphrase_run.run_chunk(job, progress)
