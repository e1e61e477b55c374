"""A small approved dataset, exported by the real exporter, for the training tests.

Three tasks: `caps` (captioning, held-in), `colours` (VQA, held-in) and `clips` (video, 8 frames per
record, held-out). Every task has an 8-instruction pool; outputs name the picture's colour, so a
tiny model can learn something real from the pixels.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from django.utils import timezone
from PIL import Image as PILImage

from annotator.models import Modality, QCStatus, TaskSplit
from pipeline.export.tasks import export_dataset
from pipeline.export.writer import export_dir, start_export
from pipeline.jobs.runner import run_job
from pipeline.media.images import store_image
from pipeline.models import Export, Sample, SampleImage
from pipeline.samples.selection import draw_instruction
from tests.factories import AdminFactory, InstructionFactory, TaskFactory

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220), "yellow": (230, 220, 30)}
POOL_SIZE = 8


def jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (40, 30), mark: int = 0) -> bytes:
    image = PILImage.new("RGB", size, colour)
    image.putpixel((mark % size[0], 0), (0, 0, 0))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def build_training_dataset(per_task: int = 16, video_records: int = 4) -> dict[str, object]:
    admin = AdminFactory(username="trainer-admin")
    caps = TaskFactory(slug="caps", group="captioning", folder="captioning", task_dir="caps")
    colours = TaskFactory(slug="colours", group="vqa", folder="vqa", task_dir="colours")
    clips = TaskFactory(
        slug="clips", group="video", folder="vqa", task_dir="clips", held_in=False, modality=Modality.VIDEO
    )
    for task in (caps, colours, clips):
        for position in range(POOL_SIZE):
            InstructionFactory(
                task=task, text=f"{task.slug} instruction {position}: look at the image.", position=position
            )
    names = list(COLOURS)
    for index in range(per_task):
        name = names[index % len(names)]
        for task, inputs, outputs in (
            (caps, "", f"A {name} picture."),
            (colours, "What colour is the picture?", f"The picture is {name}."),
        ):
            _sample(task, index, [jpeg(COLOURS[name], mark=index)], inputs, outputs)
    for index in range(video_records):
        name = names[index % len(names)]
        frames = [jpeg(COLOURS[name], mark=index * 8 + f) for f in range(8)]
        _sample(clips, index, frames, "What happens in the video?", f"Everything turns {name}.")
    TaskSplit.objects.filter(task__in=[caps, colours, clips], split="train").update(
        qc_status=QCStatus.APPROVED, approved_by=admin, approved_at=timezone.now()
    )
    export = start_export(admin, ["caps", "colours", "clips"], ["train"])
    assert run_job(export.job_id, export_dataset.body) == "succeeded"
    export.refresh_from_db()
    return {"export": export, "admin": admin, "dir": export_dir(export)}


def _sample(task: object, index: int, images: list[bytes], inputs: str, outputs: str) -> Sample:
    sample = Sample.objects.create(
        task=task, split="train", source_id=f"{task.slug}-{index}", inputs=inputs, outputs=outputs
    )
    for position, blob in enumerate(images):
        SampleImage.objects.create(sample=sample, image=store_image(blob), position=position)
    draw_instruction(sample)
    return sample


def copy_export(export: Export, target: Path) -> Path:
    """A copy of the export's folder (tests that need no database rows read this one)."""
    shutil.copytree(export_dir(export), target)
    return target
