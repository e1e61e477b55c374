"""Issue 15, smaller import notes: distractors from every class, pure red boxes on JPEG sources, no server
paths in messages, the command's failures (no traceback, the report named, non-zero with --queue), and the
regions adapter's field mapping. (Video frame indexes in meta: tests/pipeline/media/test_video.py.)"""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image as PILImage

from pipeline.imports.adapters import ImportInputError
from pipeline.imports.adapters.classification import LETTERS
from pipeline.imports.importer import resolve_folder
from pipeline.jobs.runner import scrub_paths
from pipeline.media.images import read_image_bytes
from pipeline.models import Job, JobStatus, Sample
from tests.pipeline.imports.files import importer_for, vqa_annotation, write_image, write_jsonl, write_vqa

pytestmark = pytest.mark.django_db


def test_image_folder_draws_distractors_from_every_class_of_the_mapping(import_root, tasks):
    folder = import_root / "imagenet"
    classes = [f"n0{i:07d}" for i in range(12)]
    for synset in classes[:3]:  # a split holding three of the twelve classes
        write_image(folder / "images" / synset / f"{synset}_1.JPEG")
    (folder / "mapping.txt").write_text("".join(f"{s} label{i}, other\n" for i, s in enumerate(classes)))
    importer_for("image-folder", "imagenet", "val", "imagenet").run()
    options_seen: set[str] = set()
    for sample in Sample.objects.all():
        options = sample.inputs.split("\n")[2:]
        assert [o[:3] for o in options] == [f"({letter})" for letter in LETTERS[:10]]  # ten, not three
        options_seen |= {o[4:] for o in options}
    assert options_seen - {"label0", "label1", "label2"}  # classes found only in the mapping are drawn


def test_boxes_on_a_jpeg_source_stay_pure_red(import_root, tasks):
    folder = import_root / "regions"
    photo = np.random.default_rng(0).integers(60, 200, size=(151, 201, 3), dtype=np.uint8)
    (folder / "images").mkdir(parents=True)
    PILImage.fromarray(photo).save(folder / "images" / "photo.jpg", quality=90)
    write_jsonl(
        folder / "regions.jsonl", [{"id": "r1", "image": "photo.jpg", "boxes": [[21, 21, 121, 101]], "output": "x"}]
    )
    importer_for("regions", "coco-goi", "train", "regions").run()
    derived = Sample.objects.get().images.get()
    assert derived.format == "JPEG"  # JPEG stays JPEG, but 4:4:4
    with PILImage.open(io.BytesIO(read_image_bytes(derived))) as img:
        pixels = np.asarray(img.convert("RGB")).astype(int)
    line = [pixels[21, x] for x in range(30, 110)] + [pixels[y, 21] for y in range(30, 90)]  # top and left edges
    off = [max(abs(r - 255), g, b) for r, g, b in line]  # how far each line pixel is from (255, 0, 0)
    # 4:4:4 at quality 95: within 16 and about 5 on average; the default 4:2:0 is off by about 90 on average.
    assert max(off) <= 30 and np.mean(off) <= 8, (max(off), np.mean(off))


def test_the_regions_adapter_maps_field_names(import_root, tasks):
    folder = import_root / "reg"
    write_image(folder / "images" / "a.png", size=(100, 80))
    write_jsonl(
        folder / "regions.jsonl",
        [
            {
                "qid": "q1",
                "question": "What is boxed?",
                "answer": "a cat",
                "picture": {"path": "a.png"},
                "bbox": [5, 5, 50, 40],
            }
        ],
    )
    options = {
        "id_field": "qid",
        "inputs_field": "question",
        "output_field": "answer",
        "image_field": "picture.path",
        "boxes_field": "bbox",
    }
    outcome = importer_for("regions", "coco-goi", "train", "reg", options=options).run()
    assert (outcome.created, outcome.rejected) == (1, 0)
    sample = Sample.objects.get()
    assert (sample.source_id, sample.inputs, sample.outputs) == ("q1", "What is boxed?", "a cat")
    assert sample.images.get().derivation["boxes"] == [[5.0, 5.0, 50.0, 40.0]]


def test_messages_name_no_absolute_server_path(import_root, tmp_path, settings):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with pytest.raises(ImportInputError) as caught:
        resolve_folder(str(outside))
    assert str(import_root) not in str(caught.value) and "IMPORT_ROOT" in str(caught.value)
    text = f"FileNotFoundError: [Errno 2] No such file: '{import_root}/uploads/x/a.json' or '{settings.MEDIA_ROOT}/b'"
    assert (
        scrub_paths(text)
        == "FileNotFoundError: [Errno 2] No such file: '<IMPORT_ROOT>/uploads/x/a.json' or '<MEDIA_ROOT>/b'"
    )


def _broken_vqa(folder):
    write_vqa(
        folder,
        [{"image_id": 2, "question": f"Q{i}?", "question_id": i} for i in range(3)],
        [vqa_annotation(i, 2, [f"a{i}"]) for i in range(3)],
        image_ids=[2],
    )
    (folder / "images" / "COCO_val2014_000000000002.jpg").write_bytes(b"GIF89a broken")


def test_a_failing_command_prints_no_traceback_and_points_to_the_report(tmp_path, tasks, caplog):
    _broken_vqa(tmp_path / "v")
    caplog.set_level(logging.INFO)
    with pytest.raises(CommandError) as caught:
        call_command(
            "import_source", "vqa-v2", task="vqa-v2", split="val", folder=str(tmp_path / "v"), stderr=io.StringIO()
        )
    job = Job.objects.get()
    message = str(caught.value)
    assert message.startswith(f"import job #{job.pk} failed: ImportRejected: 3 of 3 rows rejected")
    assert message.endswith(f"All rejected rows: imports/reports/job-{job.pk}-rejected.csv (in media storage).")
    assert not [r for r in caplog.records if r.exc_info]  # bad input is not a crash: no traceback logged


@pytest.mark.django_db(transaction=True)
def test_import_source_queue_exits_non_zero_when_the_job_fails(tasks, import_root):
    from config.celery import app as celery_app

    _broken_vqa(import_root / "q")
    celery_app.conf.task_always_eager = True
    try:
        with pytest.raises(CommandError, match=r"import job #\d+ failed: ImportRejected: 3 of 3 rows rejected"):
            call_command(
                "import_source", "vqa-v2", task="vqa-v2", split="val", folder=str(import_root / "q"), queue=True,
                stdout=io.StringIO(), stderr=io.StringIO(),
            )  # fmt: skip
    finally:
        celery_app.conf.task_always_eager = False
    assert Job.objects.get().status == JobStatus.FAILED
