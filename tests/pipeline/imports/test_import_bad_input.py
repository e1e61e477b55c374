"""Bad input gets a clear message and changes nothing in the database."""

from __future__ import annotations

import io
import zipfile

import pytest

from pipeline.imports.adapters import ImportInputError
from pipeline.imports.importer import ImportRejected, start_import
from pipeline.imports.uploads import receive_upload
from pipeline.models import Image, Job, Sample, SampleImage
from tests.factories import AdminFactory, SampleFactory
from tests.pipeline.imports.files import (
    bomb_png,
    importer_for,
    vqa_annotation,
    write_image,
    write_json,
    write_vqa,
)

pytestmark = pytest.mark.django_db


def _state() -> tuple[int, int, int, int]:
    return Sample.objects.count(), SampleImage.objects.count(), Image.objects.count(), Job.objects.count()


@pytest.fixture
def before(tasks):
    """Something already in the database, so 'unchanged' means more than 'empty'."""
    SampleFactory(task__slug="existing-task")
    return _state()


def _regions(import_root, lines: list, images: dict[str, bytes] | None = None) -> None:
    folder = import_root / "reg"
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for name, data in (images or {}).items():
        (folder / "images" / name).write_bytes(data)
    (folder / "regions.jsonl").write_text("".join(lines))


def _rejected(importer) -> ImportRejected:
    with pytest.raises(ImportRejected) as caught:
        importer.run()
    return caught.value


def test_truncated_json(import_root, before):
    write_vqa(
        import_root / "vqa",
        [{"image_id": 1, "question": f"Q{i}?", "question_id": i} for i in range(5)],
        [vqa_annotation(i, 1, ["a"]) for i in range(5)],
        image_ids=[1],
    )
    text = (import_root / "vqa" / "questions.json").read_text()
    (import_root / "vqa" / "questions.json").write_text(text[: text.index('"question_id": 3') + 10])
    with pytest.raises(ImportInputError, match=r"questions.json is truncated or not valid JSON after item 3"):
        importer_for("vqa-v2", "vqa-v2", "train", "vqa").run()
    assert _state() == before


def test_line_that_is_not_json(import_root, before):
    good = '{"id": "a", "image": "x.png", "boxes": [[1, 1, 5, 5]], "output": "ok"}\n'
    _regions(import_root, [good, "{this is not json\n", good.replace('"a"', '"b"')], {"x.png": b""})
    write_image(import_root / "reg" / "images" / "x.png")
    error = _rejected(importer_for("regions", "coco-goi", "train", "reg"))
    assert str(error).startswith(
        "1 of 3 rows rejected (allowed: 0); nothing was imported. First: regions.jsonl line 2:"
    )
    assert "not valid JSON" in str(error)
    assert error.result["first_rejected"][0]["line"] == 2
    assert _state() == before


def test_missing_fields(import_root, before):
    write_image(import_root / "reg" / "images" / "x.png")
    (import_root / "reg" / "regions.jsonl").write_text('{"id": "a", "image": "x.png", "output": "ok"}\n')
    error = _rejected(importer_for("regions", "coco-goi", "train", "reg"))
    assert "regions.jsonl line 1: missing field(s): boxes" in str(error)
    assert _state() == before


def test_file_that_is_not_an_image(import_root, before):
    _regions(
        import_root,
        ['{"id": "a", "image": "notes.png", "boxes": [[1, 1, 5, 5]], "output": "ok"}\n'],
        {"notes.png": b"these are notes, not pixels"},
    )
    error = _rejected(importer_for("regions", "coco-goi", "train", "reg"))
    assert "regions.jsonl line 1: images/notes.png: not a readable image: the format is unknown" in str(error)
    assert _state() == before


def test_decompression_bomb(import_root, before):
    _regions(
        import_root,
        ['{"id": "a", "image": "bomb.png", "boxes": [[1, 1, 5, 5]], "output": "ok"}\n'],
        {"bomb.png": bomb_png()},
    )
    error = _rejected(importer_for("regions", "coco-goi", "train", "reg"))
    assert "regions.jsonl line 1: images/bomb.png: image too large to decode safely (decompression bomb guard)" in str(
        error
    )
    assert _state() == before


def test_image_path_outside_the_import_folder(import_root, before):
    write_image(import_root / "secret.png")
    write_image(import_root / "reg" / "images" / "ok.png")
    _regions(
        import_root,
        [
            '{"id": "a", "image": "ok.png", "boxes": [[1, 1, 5, 5]], "output": "ok"}\n',
            '{"id": "b", "image": "../../secret.png", "boxes": [[1, 1, 5, 5]], "output": "ok"}\n',
        ],
    )
    error = _rejected(importer_for("regions", "coco-goi", "train", "reg"))
    assert "regions.jsonl line 2: path '../../secret.png' is outside the import folder" in str(error)
    assert _state() == before


def test_symlink_to_a_file_outside_the_import_folder(import_root, before):
    write_image(import_root / "secret.png")
    _regions(import_root, ['{"id": "a", "image": "link.png", "boxes": [[1, 1, 5, 5]], "output": "ok"}\n'])
    (import_root / "reg" / "images" / "link.png").symlink_to(import_root / "secret.png")
    error = _rejected(importer_for("regions", "coco-goi", "train", "reg"))
    assert "line 1: images/link.png: path 'images/link.png' is outside the import folder" in str(error)
    assert _state() == before


def test_import_folder_outside_the_import_root(import_root, before, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(ImportInputError, match="is outside the import folder"):
        start_import(
            {"adapter": "regions", "task": "coco-goi", "split": "train", "folder": "../elsewhere"}, AdminFactory()
        )
    with pytest.raises(ImportInputError, match="is outside the import folder"):
        start_import(
            {"adapter": "regions", "task": "coco-goi", "split": "train", "folder": str(tmp_path / "elsewhere")},
            AdminFactory(),
        )
    assert _state() == before


def test_zip_entry_with_dot_dot(import_root, before):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("regions.jsonl", "{}\n")
        archive.writestr("../../evil.txt", "owned")
    data = buffer.getvalue()
    with pytest.raises(ImportInputError, match=r"zip entry '../../evil.txt' points outside the import folder"):
        receive_upload(io.BytesIO(data), "upload.zip", len(data))
    assert not (import_root.parent / "evil.txt").exists()
    assert list((import_root / "uploads").iterdir()) == []  # the half-made folder is gone
    assert _state() == before


def test_unknown_adapter(import_root, before):
    with pytest.raises(ImportInputError, match=r"unknown adapter 'coco-magic'; choose one of: coco-karpathy, vqa-v2"):
        start_import({"adapter": "coco-magic", "task": "coco", "split": "train", "folder": "."}, AdminFactory())
    assert Job.objects.count() == before[3]


def test_video_that_cannot_be_decoded(import_root, before):
    folder = import_root / "vid"
    (folder / "videos").mkdir(parents=True)
    (folder / "videos" / "video1.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    write_json(folder / "train_qa.json", [{"id": 5, "video_id": 1, "question": "what?", "answer": "x"}])
    error = _rejected(importer_for("video-qa", "msrvtt-qa", "train", "vid"))
    assert "train_qa.json item 1: videos/video1.mp4: video video1.mp4 cannot be decoded" in str(error)
    assert _state() == before


def test_rejected_rows_are_reported_and_the_rest_imported_when_allowed(import_root, tasks):
    write_image(import_root / "reg" / "images" / "ok.png")
    _regions(
        import_root,
        [
            '{"id": "a", "image": "ok.png", "boxes": [[1, 1, 5, 5]], "output": "ok"}\n',
            '{"id": "b", "image": "missing.png", "boxes": [[1, 1, 5, 5]], "output": "ok"}\n',
            "[1, 2]\n",
        ],
    )
    outcome = importer_for("regions", "coco-goi", "train", "reg", max_rejected=2).run()
    assert (outcome.records, outcome.created, outcome.rejected) == (3, 1, 2)
    assert [(r["line"], r["message"]) for r in outcome.first_rejected] == [
        (2, "images/missing.png: image file images/missing.png does not exist"),
        (3, "record is not a JSON object"),
    ]
    from django.core.files.storage import default_storage

    with default_storage.open(outcome.report) as handle:
        lines = handle.read().decode().splitlines()
    assert lines[0] == "file,unit,line,source_id,message" and len(lines) == 3
    assert lines[1].startswith("regions.jsonl,line,2,b,")


def test_a_rejected_row_does_not_hide_a_later_good_row_with_its_id(import_root, tasks):
    write_image(import_root / "reg" / "images" / "ok.png")
    _regions(
        import_root,
        [
            '{"id": "same", "image": "gone.png", "boxes": [[1, 1, 5, 5]], "output": "first"}\n',
            '{"id": "same", "image": "ok.png", "boxes": [[1, 1, 5, 5]], "output": "second"}\n',
            '{"id": "same", "image": "ok.png", "boxes": [[2, 2, 6, 6]], "output": "third"}\n',
        ],
    )
    outcome = importer_for("regions", "coco-goi", "train", "reg", max_rejected=1).run()
    assert (outcome.records, outcome.created, outcome.skipped, outcome.rejected) == (3, 1, 1, 1)
    assert Sample.objects.get(source_id="same").outputs == "second"
