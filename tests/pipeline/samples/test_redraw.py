"""Re-drawing samples' instructions after a pool changed: reproducible, counted, in batches."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotator.models import Instruction
from pipeline.models import Sample
from pipeline.samples.selection import draw_instruction, instruction_seed, redraw_instructions
from tests.factories import InstructionFactory, SampleFactory, TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def task_with_samples():
    task = TaskFactory(slug="redraw-task")
    pool = [InstructionFactory(task=task, text=f"Instruction {n}.", position=n) for n in range(4)]
    samples = [SampleFactory(task=task, source_id=f"s{n}") for n in range(25)]
    for sample in samples:
        draw_instruction(sample, pool)
    return task, pool


def expected_choice(task_slug: str, sample: Sample, pool_ids: list[int]) -> int:
    """The draw, written out: seed from the sample's identity; the id with the largest blake2b(seed|id)."""
    seed = instruction_seed(task_slug, sample.split, sample.source_id)

    def weight(pk: int) -> int:
        return int.from_bytes(hashlib.blake2b(f"{seed}|{pk}".encode(), digest_size=8).digest(), "big")

    return max(pool_ids, key=weight)


def test_redraw_after_a_pool_change_counts_changes_and_is_reproducible(task_with_samples):
    task, pool = task_with_samples
    before = dict(Sample.objects.filter(task=task).values_list("id", "instruction_id"))
    assert redraw_instructions(["redraw-task"]).changed == 0  # nothing changed yet

    deleted = pool[1].pk
    pool[1].delete()  # samples that drew it lose it (SET_NULL)
    new = InstructionFactory(task=task, text="A brand new instruction.", position=9)
    ids = [i.pk for i in Instruction.objects.filter(task=task)]
    samples = list(Sample.objects.filter(task=task))
    wanted = {s.pk: expected_choice(task.slug, s, ids) for s in samples}
    expected_changes = sum(1 for s in samples if wanted[s.pk] != before[s.pk])
    assert expected_changes > 0

    outcome = redraw_instructions(["redraw-task"], batch_size=4)
    assert outcome.samples == 25
    assert outcome.changed == expected_changes
    assert outcome.per_task == {"redraw-task": expected_changes}
    after = dict(Sample.objects.filter(task=task).values_list("id", "instruction_id"))
    assert after == wanted
    assert new.pk in after.values()
    # only samples that lost their instruction or moved to the new one changed
    assert all(after[pk] == before[pk] for pk in after if before[pk] != deleted and after[pk] != new.pk)
    # a second run finds nothing to change: the draw is reproducible
    assert redraw_instructions(["redraw-task"], batch_size=7).changed == 0


def test_dry_run_writes_nothing(task_with_samples):
    task, pool = task_with_samples
    pool[0].delete()
    before = dict(Sample.objects.filter(task=task).values_list("id", "instruction_id"))
    lost = sum(1 for v in before.values() if v is None)
    assert lost > 0
    outcome = redraw_instructions(["redraw-task"], dry_run=True)
    # a deleted instruction moves exactly the samples that had drawn it
    assert outcome.changed == lost
    assert dict(Sample.objects.filter(task=task).values_list("id", "instruction_id")) == before


def test_queries_grow_with_batches_not_rows(task_with_samples):
    _task, pool = task_with_samples
    pool[2].delete()
    with CaptureQueriesContext(connection) as queries:
        redraw_instructions(["redraw-task"], batch_size=10)
    # tasks, pool, then per batch of 10 (3 batches + the empty one): one SELECT and at most one bulk UPDATE
    assert len(queries) <= 2 + 4 + 3 * 2


def test_command_says_how_many_changed(task_with_samples):
    task, pool = task_with_samples
    pool[3].delete()
    lost = Sample.objects.filter(task=task, instruction__isnull=True).count()
    out, err = io.StringIO(), io.StringIO()
    call_command("redraw_instructions", "--task", "redraw-task", "--batch-size", "5", stdout=out, stderr=err)
    assert lost > 0
    assert f"{lost} of 25 samples changed instruction." in out.getvalue()
    assert "25/25" in err.getvalue()  # the progress bar reached the end
