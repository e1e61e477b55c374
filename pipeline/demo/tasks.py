"""Celery task of the demo: draw a small dataset on the fly."""

from __future__ import annotations

import time
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_noop

from annotator.models import Task
from pipeline.demo import dataset as demo
from pipeline.jobs.runner import Progress, job_task
from pipeline.media.images import store_image
from pipeline.models import Job, ParaphraseState, Sample, SampleImage
from pipeline.samples import counts
from pipeline.samples.selection import draw_instruction


@job_task(queue="default")
def build_demo_dataset(job: Job, progress: Progress) -> dict[str, Any]:
    """Draw the demo samples (shapes VQA or captions) for one task. Resumable: existing ids are skipped."""
    task = Task.objects.get(slug=job.params["task"])
    count = int(job.params.get("count", 20))
    split = job.params.get("split", "train")
    pause = float(job.params.get("seconds_per_sample", 0))
    make = demo.shapes_vqa_record if job.params.get("kind", "vqa") == "vqa" else demo.shapes_caption_record
    existing = set(Sample.objects.filter(task=task, split=split).values_list("source_id", flat=True))
    progress.update(
        done=0,
        total=count,
        message=gettext_noop("Drawing %(count)s demo samples for %(task)s/%(split)s"),
        message_args={"count": count, "task": task.slug, "split": split},
        force=True,
    )
    created = 0
    for index in range(count):
        record = make(index, seed=int(job.params.get("seed", 0)))
        if record.source_id not in existing:
            image = store_image(record.image_png)
            with transaction.atomic():  # the sample, its image link and its count, or none of them
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
                counts.inserted([sample])
            created += 1
            if pause:
                time.sleep(pause)
        progress.add(1, created=int(record.source_id not in existing), skipped=int(record.source_id in existing))
    progress.update(message=gettext_noop("%(created)s samples created"), message_args={"created": created}, force=True)
    return {"created": created, "skipped": count - created}
