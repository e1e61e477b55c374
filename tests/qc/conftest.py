"""Splits ready for review: a task with a writer, a reviewer, an instruction pool and samples."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from annotator.models import Task, TaskSplit
from pipeline.models import Sample
from pipeline.samples.selection import draw_instruction
from tests.factories import AnnotatorFactory, InstructionFactory, ReviewerFactory, SampleFactory, TaskFactory


@dataclass
class Setup:
    task: Task
    split: TaskSplit
    writer: object
    reviewer: object
    samples: list[Sample]


def make_split(n_samples: int = 25, split: str = "train", **task_fields: object) -> Setup:
    writer = task_fields.pop("writer", None) or AnnotatorFactory()
    reviewer = task_fields.pop("reviewer", None) or ReviewerFactory()
    task = TaskFactory(writer=writer, reviewer=reviewer, **task_fields)
    pool = [InstructionFactory(task=task, author=writer) for _ in range(3)]
    samples = []
    for _ in range(n_samples):
        sample = SampleFactory(task=task, split=split)
        draw_instruction(sample, pool)
        samples.append(sample)
    return Setup(task, TaskSplit.objects.get(task=task, split=split), writer, reviewer, samples)


@pytest.fixture
def split_setup(db: None) -> Callable[..., Setup]:
    return make_split
