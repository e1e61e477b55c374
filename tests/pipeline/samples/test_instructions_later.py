"""Samples imported before the task has instructions get one when the pool gains them, and the import
page says so (issue 15, item 9)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator import pool
from annotator.models import QCStatus, TaskSplit
from pipeline.models import Job, JobKind, Sample
from pipeline.samples.selection import instruction_seed, pick
from tests.factories import AdminFactory, AnnotatorFactory, SampleFactory, TaskFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the draw runs after the pool change commits


def test_instructionless_samples_get_one_when_the_writer_adds_instructions():
    writer = AnnotatorFactory()
    task = TaskFactory(writer=writer)
    samples = [SampleFactory(task=task, split="train") for _ in range(5)]
    other = SampleFactory(split="train")  # another task's sample without instruction stays as it is
    assert not Sample.objects.filter(task=task, instruction__isnull=False).exists()

    first = pool.add_instruction(task, writer, "Answer the question about the image.")
    assert set(Sample.objects.filter(task=task).values_list("instruction", flat=True)) == {first.pk}
    assert Sample.objects.get(pk=other.pk).instruction_id is None

    second = pool.add_instruction(task, writer, "Look at the picture and reply briefly.")
    # samples that already have one keep it; the draw is the seeded one the importer makes
    assert set(Sample.objects.filter(task=task).values_list("instruction", flat=True)) == {first.pk}
    late = SampleFactory(task=task, split="val")
    Sample.objects.filter(pk=late.pk).update(instruction=None)
    pool.add_instruction(task, writer, "What does the image show?")
    late.refresh_from_db()
    pool_now = list(task.instructions.all())
    assert late.instruction == pick(pool_now, instruction_seed(task.slug, "val", late.source_id))
    assert late.instruction_seed == instruction_seed(task.slug, "val", late.source_id)
    assert {second.pk, first.pk} <= {i.pk for i in pool_now} and len(samples) == 5


def test_a_pool_import_draws_too_and_an_approved_split_goes_back_to_review():
    admin = AdminFactory()
    task = TaskFactory()
    SampleFactory(task=task, split="train")
    TaskSplit.objects.filter(task=task, split="train").update(qc_status=QCStatus.APPROVED)
    pool.import_pool(task, admin, [f"Instruction number {n} about the image." for n in range(10)])
    assert not Sample.objects.filter(task=task, instruction__isnull=True).exists()
    split = TaskSplit.objects.get(task=task, split="train")
    assert split.qc_status == QCStatus.PENDING and "drawn for samples that had none" in split.qc_notes


def test_import_pages_warn_when_the_task_has_no_instructions(client):
    task = TaskFactory(slug="empty-pool")
    job = Job.objects.create(
        kind=JobKind.IMPORT, task=task, task_name="pipeline.imports.tasks.import_source", params={"task": task.slug}
    )
    client.force_login(AdminFactory())
    form = client.get(reverse("import-list")).content.decode()
    assert "empty-pool (no instructions yet)" in form
    page = client.get(reverse("import-detail", args=[job.pk])).content.decode()
    assert "empty-pool has no instructions yet" in page and "drawn automatically" in page
