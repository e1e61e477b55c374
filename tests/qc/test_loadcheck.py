"""The load check re-reads the samples as the exporter writes them and catches what would not load."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from annotator.models import Instruction
from pipeline.export.record import build_record, encode_line, sample_image_bytes
from pipeline.models import Sample
from qc import review
from qc.loadcheck import check_lines, load_check, serialise
from tests.qc.conftest import make_split

pytestmark = pytest.mark.django_db


def samples_of(setup: object) -> list[Sample]:
    ids = [x.pk for x in setup.samples]
    by_id = Sample.objects.select_related("instruction").prefetch_related("sample_images__image").in_bulk(ids)
    return [by_id[i] for i in ids]


@pytest.fixture
def damage() -> object:
    """Overwrite (or delete) a stored image file, and put it back afterwards: files are content-addressed
    and shared by every test of the session, while the database is rolled back."""
    saved: list[tuple[str, bytes]] = []

    def apply(image: object, data: bytes | None) -> None:
        name = image.file.name
        with default_storage.open(name, "rb") as handle:
            saved.append((name, handle.read()))
        default_storage.delete(name)
        if data is not None:
            default_storage.save(name, ContentFile(data))

    yield apply
    for name, data in saved:
        default_storage.delete(name)
        default_storage.save(name, ContentFile(data))


def pool_of(setup: object) -> set[str]:
    return set(Instruction.objects.filter(task=setup.task).values_list("text", flat=True))


def test_clean_samples_pass_and_lines_are_the_exporters_bytes():
    s = make_split(3)
    samples = samples_of(s)
    lines = serialise(samples)
    assert lines[0][1] == encode_line(build_record(samples[0], sample_image_bytes(samples[0])))
    result = load_check(samples, pool_of(s))
    assert result["ok"] is True and result["records"] == 3 and result["problems"] == {}


def test_broken_image_is_caught(damage):
    s = make_split(3)
    damage(s.samples[1].sample_images.get().image, b"\x89PNG\r\n\x1a\n this is not a png")
    result = load_check(samples_of(s), pool_of(s))
    assert result["ok"] is False
    assert list(result["problems"]) == [str(s.samples[1].pk)]
    assert "image 0: does not decode as an image" in result["problems"][str(s.samples[1].pk)][0]


def test_missing_image_file_is_caught(damage):
    s = make_split(2)
    damage(s.samples[0].sample_images.get().image, None)
    result = load_check(samples_of(s), pool_of(s))
    assert result["problems"] == {str(s.samples[0].pk): ["an image file of the sample cannot be read from storage"]}


def test_missing_field_is_caught():
    s = make_split(2)
    lines = serialise(samples_of(s))
    sample_id, line = lines[0]
    broken = line.replace(b'"outputs":', b'"answer":')
    result = check_lines([(sample_id, broken), lines[1]], pool_of(s))
    assert result["ok"] is False
    assert "missing field(s): outputs" in result["problems"][str(sample_id)]


def test_line_that_is_not_json_is_caught():
    result = check_lines([(7, b'{"instruction": "x"')], set())
    assert result["ok"] is False and result["problems"]["7"][0].startswith("line does not load as JSON")


def test_instruction_not_in_pool_is_caught():
    s = make_split(2)
    other_task = make_split(1)
    Sample.objects.filter(pk=s.samples[0].pk).update(instruction=other_task.samples[0].instruction)
    result = load_check(samples_of(s), pool_of(s))
    assert result["problems"] == {str(s.samples[0].pk): ["instruction is not in the task's instruction pool"]}


def test_review_shows_the_load_check_result_of_its_samples():
    s = make_split(4)
    Sample.objects.filter(pk=s.samples[2].pk).update(instruction=None)
    rev = review.start_review(s.split, s.reviewer)
    assert rev.load_check["ok"] is False
    assert rev.load_check["problems"] == {str(s.samples[2].pk): ["instruction is empty"]}
