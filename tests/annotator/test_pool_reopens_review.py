"""Changing instruction text that approved samples export sends their splits back to review."""

from __future__ import annotations

import pytest

from annotator import pool
from annotator.models import PoolStatus, QCStatus, TaskSplit
from pipeline.samples.selection import redraw_instructions
from tests.factories import InstructionFactory, SampleFactory, TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved(annotator, reviewer):
    """A task whose train split (samples drawing instruction A) is approved; val has samples drawing B."""
    task = TaskFactory(slug="reopen", writer=annotator, reviewer=reviewer)
    a = InstructionFactory(task=task, text="Answer the question about the image.", position=0, author=annotator)
    b = InstructionFactory(task=task, text="Look at the picture and reply.", position=1, author=annotator)
    unused = InstructionFactory(task=task, text="Nobody drew this one.", position=2, author=annotator)
    for n in range(2):
        SampleFactory(task=task, split="train", source_id=f"t{n}", instruction=a)
        SampleFactory(task=task, split="val", source_id=f"v{n}", instruction=b)
    TaskSplit.objects.filter(task=task, split__in=["train", "val"]).update(qc_status=QCStatus.APPROVED)
    return task, a, b, unused


def statuses(task) -> dict[str, str]:
    return dict(TaskSplit.objects.filter(task=task).values_list("split", "qc_status"))


def test_editing_an_instruction_reopens_only_the_splits_that_export_it(approved, annotator):
    task, a, _, unused = approved
    pool.edit_instruction(task, annotator, unused.pk, "Still nobody draws this one.")
    assert statuses(task) == {"train": QCStatus.APPROVED, "val": QCStatus.APPROVED, "test": QCStatus.PENDING}

    pool.edit_instruction(task, annotator, a.pk, "Answer the question about this image, please.")
    assert statuses(task)["train"] == QCStatus.PENDING and statuses(task)["val"] == QCStatus.APPROVED
    assert "instruction #1 was edited" in TaskSplit.objects.get(task=task, split="train").qc_notes


def test_deleting_an_instruction_reopens_the_splits_that_used_it(approved, annotator):
    task, _, b, _ = approved
    pool.delete_instruction(task, annotator, b.pk)
    assert statuses(task)["val"] == QCStatus.PENDING and statuses(task)["train"] == QCStatus.APPROVED


def test_an_import_over_the_pool_reopens_splits_of_removed_or_rewritten_instructions(approved, admin_user):
    task, a, b, _ = approved
    # A keeps its text; B is rewritten in case only (kept, but exports other text); the unused one goes.
    pool.import_pool(task, admin_user, [a.text, b.text.upper()])
    assert statuses(task)["train"] == QCStatus.APPROVED and statuses(task)["val"] == QCStatus.PENDING


def test_a_redraw_that_moves_samples_reopens_their_splits(approved):
    task, *_ = approved
    task.pool_status = PoolStatus.SUBMITTED
    task.save()
    outcome = redraw_instructions(["reopen"])
    moved = set(
        TaskSplit.objects.filter(task=task, qc_status=QCStatus.PENDING)
        .exclude(split="test")
        .values_list("split", flat=True)
    )
    assert outcome.changed > 0  # four samples, three instructions: the seeded draw moves some
    assert moved and all(s in ("train", "val") for s in moved)
    assert redraw_instructions(["reopen"]).changed == 0
