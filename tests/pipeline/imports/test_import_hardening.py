"""Batches bounded by bytes, boxes at the image edge, frames checked like images, rows that fail only in the
write pass, a streamed rejection report and typed adapter options."""

from __future__ import annotations

import csv
import io
import tracemalloc
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from pipeline.imports.adapters import ImportInputError
from pipeline.imports.adapters.base import Location, Rejected
from pipeline.imports.importer import Importer, ImportRejected, RejectionReport, validate_params
from pipeline.models import ParaphraseState, Sample
from tests.pipeline.imports.files import importer_for, write_image, write_json, write_jsonl, write_video

pytestmark = pytest.mark.django_db


# ---- 1. a batch ends when its images pass IMPORT_BATCH_MAX_BYTES ---------------------------------


def _generic_with_images(folder: Path, count: int) -> list[int]:
    """`count` rows, each with its own picture; returns the byte size of each picture."""
    sizes = []
    for i in range(count):
        sizes.append(write_image(folder / "pics" / f"{i}.png", colour=(i * 40, 10, 10)).stat().st_size)
    write_jsonl(folder / "rows.jsonl", [{"id": f"r{i}", "image": f"{i}.png", "output": f"o{i}"} for i in range(count)])
    return sizes


def _generic(folder: str) -> Importer:
    return importer_for("generic", "gqa", "val", folder, files={"records": "rows.jsonl", "images": "pics"})


@pytest.mark.django_db(transaction=True)
def test_a_batch_is_split_when_its_images_pass_the_byte_cap(import_root, tasks, settings):
    sizes = _generic_with_images(import_root / "g", 5)
    assert max(sizes) < 2 * min(sizes)  # so: one picture stays under the cap, any two reach it
    settings.IMPORT_BATCH_MAX_BYTES = 2 * min(sizes)
    committed: list[int] = []

    importer = _generic("g")
    assert importer.batch_size == 1000  # rows alone would make one batch of 5
    importer.after_batch = lambda number: committed.append(Sample.objects.count())
    outcome = importer.run()
    assert committed == [2, 4, 5]  # batches of 2, 2 and 1 rows, each committed on its own
    assert (outcome.created, outcome.rejected, outcome.images_stored) == (5, 0, 5)


@pytest.mark.django_db(transaction=True)
def test_a_byte_capped_import_resumes_from_its_last_committed_batch(import_root, tasks, settings):
    sizes = _generic_with_images(import_root / "g", 5)
    settings.IMPORT_BATCH_MAX_BYTES = 2 * min(sizes)

    def stop_after_second(number: int) -> None:
        if number == 2:
            raise RuntimeError("worker lost")

    crashed = _generic("g")
    crashed.after_batch = stop_after_second
    with pytest.raises(RuntimeError):
        crashed.run()
    assert sorted(Sample.objects.values_list("source_id", flat=True)) == ["r0", "r1", "r2", "r3"]
    again = _generic("g").run()
    assert (again.created, again.skipped) == (1, 4)


# ---- 2. boxes at the right or bottom edge --------------------------------------------------------


def _regions(import_root: Path, boxes: list[list[float]]) -> None:
    folder = import_root / "reg"
    write_image(folder / "images" / "wide.png", colour=(0, 128, 0), size=(640, 480))
    write_jsonl(
        folder / "regions.jsonl",
        [{"id": f"b{i}", "image": "wide.png", "boxes": [box], "output": "x"} for i, box in enumerate(boxes)],
    )


def test_a_box_less_than_a_pixel_inside_the_edge_rejects_its_row_only(import_root, tasks):
    # b0 starts at 639.6 on a 640-wide picture: rounded it is the last column, so nothing is left to draw.
    # b1 runs past the right and bottom edges: it is clamped to the picture and drawn.
    _regions(import_root, [[639.6, 10, 645, 20], [600, 400, 700, 500]])
    outcome = importer_for("regions", "coco-goi", "train", "reg", max_rejected=1).run()
    assert (outcome.created, outcome.rejected) == (1, 1)
    assert outcome.first_rejected[0]["source_id"] == "b0"
    assert outcome.first_rejected[0]["message"] == (
        "images/wide.png: box [639.6, 10.0, 645.0, 20.0] is less than a pixel wide or high inside the 640x480 image"
    )
    assert Sample.objects.get().source_id == "b1"


def test_an_unexpected_error_on_one_row_is_a_rejected_row(import_root, tasks, monkeypatch):
    _regions(import_root, [[1, 1, 5, 5]])

    def broken(prepared, boxes, colours=()):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr("pipeline.imports.importer.draw_boxes", broken)
    with pytest.raises(ImportRejected) as caught:
        importer_for("regions", "coco-goi", "train", "reg").run()
    assert caught.value.result["first_rejected"][0]["message"] == (
        "images/wide.png: unexpected error (ZeroDivisionError): boom"
    )
    assert Sample.objects.count() == 0


# ---- 3. no row is dropped silently ---------------------------------------------------------------


def test_video_frames_are_checked_like_images_in_the_check_pass(import_root, tasks, settings):
    folder = import_root / "msrvtt"
    write_video(folder / "videos" / "video7.mp4", [(200, 10, 10)] * 10, size=(64, 48))
    write_json(folder / "train_qa.json", [{"answer": "red", "id": 0, "question": "colour?", "video_id": 7}])
    settings.IMAGE_MAX_SIDE = 40  # the frames are 64x48
    with pytest.raises(ImportRejected) as caught:
        importer_for("video-qa", "msrvtt-qa", "train", "msrvtt").run()
    result = caught.value.result
    assert (result["records"], result["rejected"]) == (1, 1)
    assert result["first_rejected"][0]["message"] == (
        "videos/video7.mp4: video video7.mp4 has 64x48 frames; each side must be 1 to 40 pixels "
        "and a frame at most 40000000 pixels"
    )  # refused from the declared frame size, before a frame is decoded


def test_a_file_that_breaks_between_the_passes_is_reported_not_dropped(import_root, tasks, monkeypatch):
    _generic_with_images(import_root / "g", 3)
    real_check = Importer._check

    def check_then_break_a_file(self, outcome, report):
        real_check(self, outcome, report)
        (import_root / "g" / "pics" / "1.png").write_bytes(b"not a picture any more")

    monkeypatch.setattr(Importer, "_check", check_then_break_a_file)
    outcome = _generic("g").run()
    assert (outcome.records, outcome.accepted, outcome.created, outcome.rejected) == (3, 2, 2, 1)
    assert outcome.first_rejected[0]["source_id"] == "r1"
    assert outcome.first_rejected[0]["message"] == (
        "pics/1.png: not a readable image: the format is unknown or the file is damaged"
    )
    with default_storage.open(outcome.report, "rb") as handle:
        rows = list(csv.reader(io.StringIO(handle.read().decode())))
    assert [row[3] for row in rows] == ["source_id", "r1"]


# ---- 4. the rejection report is streamed to storage ----------------------------------------------


def test_the_rejection_report_is_not_read_into_memory(tasks):
    report = RejectionReport()
    message = "m" * 1000
    for i in range(4000):  # about 4 MB of CSV
        report.add(Rejected(Location("rows.jsonl", i + 1), message, f"s{i}"))
    tracemalloc.start()
    try:
        name = report.save("imports/reports/streamed-test.csv")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # reading it whole would need 4 MB of text plus 4 MB of bytes
    with default_storage.open(name, "rb") as handle:
        rows = list(csv.reader(io.StringIO(handle.read().decode(), newline="")))
    default_storage.delete(name)
    assert len(rows) == 4001
    assert rows[0] == ["file", "unit", "line", "source_id", "message"]
    assert rows[4000] == ["rows.jsonl", "line", "4000", "s3999", message]


# ---- 7. adapter options are read as their kind ---------------------------------------------------


def _params(adapter: str, task: str, folder: str, options: dict) -> dict:
    return {"adapter": adapter, "task": task, "split": "val", "folder": folder, "options": options}


@pytest.mark.parametrize(
    ("given", "expected"),
    [("false", False), ("0", False), ("no", False), ("Off", False), ("true", True), ("YES", True), (1, True)],
)
def test_boolean_options_read_words(import_root, tasks, given, expected):
    (import_root / "reg" / "images").mkdir(parents=True)
    (import_root / "reg" / "regions.jsonl").write_text("")
    importer = validate_params(_params("regions", "coco-goi", "reg", {"short_answers": given}))
    assert importer.options["short_answers"] is expected


@pytest.mark.parametrize(
    ("adapter", "task", "options", "message"),
    [
        ("regions", "coco-goi", {"short_answers": "maybe"}, "option short_answers must be true or false"),
        ("video-qa", "msrvtt-qa", {"frames": "eight"}, "option frames must be a whole number, not 'eight'"),
        ("video-qa", "msrvtt-qa", {"frames": True}, "option frames must be a whole number, not True"),
        ("regions", "coco-goi", {"box_format": ["xyxy"]}, "option box_format must be text, not ['xyxy']"),
    ],
)
def test_option_values_of_the_wrong_kind_fail_before_the_job(import_root, tasks, adapter, task, options, message):
    (import_root / "src").mkdir()
    with pytest.raises(ImportInputError) as caught:
        validate_params(_params(adapter, task, "src", options))
    assert message in str(caught.value)


def test_whole_number_options_given_as_text_are_read(import_root, tasks):
    (import_root / "msrvtt" / "videos").mkdir(parents=True)
    write_json(import_root / "msrvtt" / "train_qa.json", [])
    importer = validate_params(_params("video-qa", "msrvtt-qa", "msrvtt", {"frames": " 4 "}))
    assert importer.options["frames"] == 4


def test_short_answers_false_as_text_is_false(import_root, tasks):
    folder = import_root / "g"
    write_image(folder / "pics" / "a.png")
    write_jsonl(folder / "rows.jsonl", [{"id": "x", "image": "a.png", "output": "a long caption"}])
    importer_for(
        "generic",
        "gqa",
        "val",
        "g",
        files={"records": "rows.jsonl", "images": "pics"},
        options={"short_answers": "false"},
    ).run()
    assert Sample.objects.get().paraphrase_state == ParaphraseState.NOT_NEEDED
