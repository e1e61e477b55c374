"""insert_rows: the same rows as the ORM would write, ids set, on PostgreSQL (COPY) and SQLite (bulk_create)."""

from __future__ import annotations

import pytest
from django.db import transaction

from pipeline.imports.bulk import insert_rows
from pipeline.models import ParaphraseState, Sample, SampleImage
from tests.factories import InstructionFactory, SampleFactory, TaskFactory, png_bytes

pytestmark = pytest.mark.django_db


def test_insert_rows_writes_every_field_and_sets_primary_keys():
    task = TaskFactory(slug="bulk")
    instruction = InstructionFactory(task=task)
    image_owner = SampleFactory(task=task, source_id="owner", image=png_bytes((1, 2, 3)))
    image = image_owner.sample_images.get().image
    tricky = {"answers": ["a\tb", "line\nbreak", "back\\slash", "中文", None], "n": 3, "nested": {"x": [1.5, True]}}
    samples = [
        Sample(
            task=task,
            split="val",
            source_id=f"row-{n}",
            inputs="Q with \\N and \t tab?" if n == 0 else "",
            outputs="",
            original_output="yes",
            meta=tricky if n == 0 else {},
            instruction=instruction if n == 0 else None,
            instruction_seed=2**40 + n,
            paraphrase_state=ParaphraseState.PENDING,
        )
        for n in range(3)
    ]
    with transaction.atomic():
        insert_rows(samples)
        insert_rows([SampleImage(sample_id=s.pk, image_id=image.pk, position=0) for s in samples])

    assert all(s.pk for s in samples) and len({s.pk for s in samples}) == 3
    stored = {s.source_id: s for s in Sample.objects.filter(task=task, split="val")}
    first = stored["row-0"]
    assert first.pk == samples[0].pk
    assert (first.inputs, first.meta, first.instruction_id) == ("Q with \\N and \t tab?", tricky, instruction.pk)
    assert first.instruction_seed == 2**40 and first.created_at is not None and first.updated_at is not None
    assert stored["row-2"].instruction_id is None and stored["row-2"].meta == {}
    assert SampleImage.objects.filter(sample__in=samples, image=image).count() == 3
    # The sequence moved past the ids we took: the ORM's next insert does not collide.
    later = SampleFactory(task=task, source_id="later")
    assert later.pk > max(s.pk for s in samples)
