"""A small dataset for export tests: two tasks with approved and unapproved splits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from annotator.models import QCStatus, TaskSplit
from pipeline.media.images import store_image
from pipeline.models import ParaphraseState, Sample, SampleImage, SampleQCState
from pipeline.samples import counts
from pipeline.samples.selection import draw_instruction
from tests.factories import InstructionFactory, TaskFactory, UserFactory, png_bytes

APPROVED_AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@dataclass
class SmallDataset:
    """What the tests expect, spelled out by hand."""

    tasks: dict[str, object] = field(default_factory=dict)
    images: dict[int, list[bytes]] = field(default_factory=dict)  # sample id -> image bytes in order
    rejected: list[int] = field(default_factory=list)


def files_under(root: Path) -> dict[str, bytes]:
    """Every file below `root` by its relative path, with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def approve(task: object, split: str, reviewer: object) -> None:
    TaskSplit.objects.filter(task=task, split=split).update(
        qc_status=QCStatus.APPROVED, approved_by=reviewer, approved_at=APPROVED_AT
    )


def _sample(data: SmallDataset, task: object, split: str, index: int, images: list[bytes], **fields: object) -> Sample:
    sample = Sample.objects.create(
        task=task,
        split=split,
        source_id=f"{task.slug}-{split}-{index}",
        inputs=fields.pop("inputs", f"Question {index} about {task.slug}?"),
        outputs=fields.pop("outputs", f"Answer {index} ✓ «{split}»"),
        original_output=fields.pop("original_output", f"answer {index}"),
        meta=fields.pop("meta", {"image_id": 1000 + index, "b": [index, "x"], "a": {"z": 1, "y": 2}}),
        **fields,
    )
    for position, blob in enumerate(images):
        SampleImage.objects.create(sample=sample, image=store_image(blob), position=position)
    draw_instruction(sample)
    counts.inserted([sample])
    data.images[sample.pk] = images
    return sample


def build_small_dataset(samples_per_split: int = 4) -> SmallDataset:
    """vqa/alpha: train+val approved, test pending. captioning/beta: train approved (one sample
    rejected by QC, one with two images and a paraphrase), val in review. vqa/gamma: nothing approved."""
    data = SmallDataset()
    reviewer = UserFactory(username="rita", role="reviewer")
    alpha = TaskFactory(slug="alpha", group="vqa", folder="vqa", task_dir="alpha", licence="CC BY 4.0")
    beta = TaskFactory(
        slug="beta", group="captioning", folder="captioning", task_dir="beta_caps", held_in=False, licence="Custom"
    )
    gamma = TaskFactory(slug="gamma", group="vqa", folder="vqa", task_dir="gamma")
    data.tasks = {"alpha": alpha, "beta": beta, "gamma": gamma}
    for task, texts in (
        (alpha, ["Answer the question about the picture.", "Look at the image and reply.", "Respond briefly."]),
        (beta, ["Describe the image.", "Write a caption for this picture in one sentence."]),
        (gamma, ["Say something."]),
    ):
        for position, text in enumerate(texts):
            InstructionFactory(task=task, text=text, position=position)

    colour = 0
    for split in ("train", "val", "test"):
        for index in range(samples_per_split):
            colour += 1
            _sample(data, alpha, split, index, [png_bytes((colour * 9 % 256, 40, 80), (20 + index, 10))])
    for index in range(samples_per_split):
        colour += 1
        extra: dict[str, object] = {}
        images = [png_bytes((10, colour * 7 % 256, 10))]
        if index == 1:
            images.append(png_bytes((200, 200, colour % 256), (8, 8)))
            extra = {
                "paraphrase_state": ParaphraseState.ACCEPTED,
                "paraphrase": {"prompt_version": "v2", "model": "test-llm"},
            }
        if index == 2:
            extra = {"qc_state": SampleQCState.REJECTED}
        sample = _sample(data, beta, "train", index, images, inputs="", **extra)
        if index == 2:
            data.rejected.append(sample.pk)
        _sample(data, beta, "val", index, [png_bytes((1, 2, colour % 256))], inputs="")
    _sample(data, gamma, "train", 0, [png_bytes((5, 5, 5))])

    approve(alpha, "train", reviewer)
    approve(alpha, "val", reviewer)
    approve(beta, "train", reviewer)
    TaskSplit.objects.filter(task=beta, split="val").update(qc_status=QCStatus.IN_REVIEW)
    return data
