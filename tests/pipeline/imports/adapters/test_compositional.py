"""GQA, CLEVR, Shapes and FM-IQA in their release layouts, through the importer."""

# ruff: noqa: RUF001 - FM-IQA's Chinese questions end with a full-width question mark

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from pipeline.imports.adapters import ImportInputError
from pipeline.media.images import read_image_bytes
from pipeline.models import ParaphraseState, Sample
from tests.pipeline.imports.files import coco_name, id_image, importer_for, write_image, write_json

pytestmark = pytest.mark.django_db


def _samples(task: str, split: str) -> dict[str, Sample]:
    return {s.source_id: s for s in Sample.objects.filter(task__slug=task, split=split)}


def _gqa_question(image_id: str, question: str, answer: str, full: str) -> dict:
    return {
        "semantic": [{"operation": "select", "dependencies": [], "argument": "box (1)"}],
        "entailed": [],
        "equivalent": [],
        "question": question,
        "imageId": image_id,
        "isBalanced": True,
        "groups": {"global": None, "local": "13-box_on,_"},
        "answer": answer,
        "semanticStr": "select: box (1)->verify on: table",
        "annotations": {"answer": {}, "question": {}, "fullAnswer": {}},
        "types": {"detailed": "existRel", "semantic": "rel", "structural": "verify"},
        "fullAnswer": full,
    }


def test_gqa_questions_keyed_by_id_full_answers(import_root, tasks):
    folder = import_root / "gqa"
    questions = {
        "02930152": _gqa_question("2354786", "Is the sky dark?", "yes", "Yes, the sky is dark."),
        "07333408": _gqa_question("n161313", "What is on the table?", "box", "The box is on the table."),
        "07333409": {"imageId": "2354786", "question": "Missing answer?"},
    }
    write_json(folder / "train_balanced_questions.json", questions)
    write_image(folder / "images" / "2354786.jpg")
    write_image(folder / "images" / "n161313.jpg", colour=(3, 3, 3))

    outcome = importer_for("gqa", "gqa", "train", "gqa", max_rejected=1).run()

    assert (outcome.created, outcome.rejected) == (2, 1)
    assert outcome.first_rejected[0] == {
        "file": "train_balanced_questions.json",
        "unit": "entry",
        "line": 3,
        "source_id": "07333409",
        "message": "missing field(s): answer",
    }
    box = _samples("gqa", "train")["07333408"]
    assert (box.inputs, box.outputs, box.original_output) == (
        "What is on the table?",
        "The box is on the table.",
        "box",
    )
    assert box.paraphrase_state == ParaphraseState.NOT_NEEDED
    assert (box.meta["image_id"], box.meta["types"]["structural"]) == ("n161313", "verify")

    importer_for("gqa", "gqa", "val", "gqa", max_rejected=1, options={"answer": "short"}).run()
    short = _samples("gqa", "val")["02930152"]
    assert (short.outputs, short.paraphrase_state) == ("yes", ParaphraseState.PENDING)
    with pytest.raises(ImportInputError, match='answer must be "full" or "short"'):
        importer_for("gqa", "gqa", "val", "gqa", options={"answer": "long"}).run()


def test_clevr_questions_with_images_in_split_folders(import_root, tasks):
    folder = import_root / "CLEVR_v1.0"
    questions = [
        {
            "image_index": index,
            "program": [{"inputs": [], "function": "scene", "value_inputs": []}],
            "question_index": index * 10,
            "image_filename": f"CLEVR_val_{index:06d}.png",
            "question_family_index": 3,
            "split": "val",
            "answer": answer,
            "question": question,
        }
        for index, (question, answer) in enumerate([("Is there a cube?", "yes"), ("How many spheres?", "2")])
    ]
    write_json(folder / "questions" / "CLEVR_val_questions.json", {"info": {"split": "val"}, "questions": questions})
    for index in range(2):
        write_image(folder / "images" / "val" / f"CLEVR_val_{index:06d}.png", colour=(index * 50, 0, 0))

    outcome = importer_for(
        "clevr", "clevr", "val", "CLEVR_v1.0", files={"questions": "questions/CLEVR_val_questions.json"}
    ).run()

    assert outcome.created == 2
    spheres = _samples("clevr", "val")["10"]
    assert (spheres.inputs, spheres.outputs) == ("How many spheres?", "2")
    assert spheres.paraphrase_state == ParaphraseState.NOT_NEEDED  # M3IT kept CLEVR's answers as they are
    assert (spheres.meta["image_filename"], spheres.meta["question_family_index"]) == ("CLEVR_val_000001.png", 3)
    assert np.asarray(PILImage.open(io.BytesIO(read_image_bytes(spheres.images.get()))))[5, 5][0] == 50


def test_shapes_text_files_and_the_pixel_array(import_root, tasks):
    folder = import_root / "shapes"
    folder.mkdir()
    pixels = np.zeros((3, 30, 30, 3), dtype=np.float32)
    pixels[0, :, :, 0] = 1.0  # red
    pixels[1, :, :, 2] = 1.0  # blue
    np.save(folder / "val.input.npy", pixels)
    (folder / "val.query_str.txt").write_text("is a red shape above a circle\nis a blue shape red\nis green\n")
    (folder / "val.output").write_text("true\nfalse\nmaybe\n")

    outcome = importer_for(
        "shapes",
        "shapes",
        "val",
        "shapes",
        max_rejected=1,
        files={"questions": "val.query_str.txt", "answers": "val.output", "images": "val.input.npy"},
    ).run()

    assert (outcome.created, outcome.rejected) == (2, 1)
    assert outcome.first_rejected[0]["message"] == "answer 'maybe' is not true or false"
    samples = _samples("shapes", "val")
    assert (samples["val-1"].inputs, samples["val-1"].outputs) == ("is a red shape above a circle", "yes")
    assert samples["val-2"].outputs == "no" and samples["val-2"].meta["index"] == 1
    picture = PILImage.open(io.BytesIO(read_image_bytes(samples["val-2"].images.get())))
    assert picture.size == (30, 30) and picture.getpixel((3, 3)) == (0, 0, 255)


def test_fm_iqa_parts_follow_the_split_with_coco_images(import_root, tasks):
    folder = import_root / "fmiqa"
    write_json(
        folder / "FM-CH-QA.json",
        {
            "train": [
                {"image_id": "9", "Question": "图片里有什么动物？", "Answer": "一只猫。"},
                {"image_id": "10", "Question": "天空是什么颜色？", "Answer": "蓝色。"},
            ],
            "val": [{"image_id": "9", "Question": "猫在做什么？", "Answer": "睡觉。"}],
        },
    )
    (folder / "images").mkdir()
    for image_id in (9, 10):
        (folder / "images" / coco_name(image_id, "train2014")).write_bytes(id_image(image_id))

    assert importer_for("fm-iqa", "fm-iqa", "train", "fmiqa").run().created == 2
    assert importer_for("fm-iqa", "fm-iqa", "val", "fmiqa").run().created == 1
    cat = _samples("fm-iqa", "train")["train-1"]
    assert (cat.inputs, cat.outputs, cat.paraphrase_state) == (
        "图片里有什么动物？",
        "一只猫。",
        ParaphraseState.PENDING,
    )
    assert cat.meta == {"source_dataset": "fm-iqa", "image_id": "9", "part": "train"}
    assert list(_samples("fm-iqa", "val")) == ["val-1"]
    assert _samples("fm-iqa", "val")["val-1"].images.get() == cat.images.get()
    with pytest.raises(ImportInputError, match="set part for the test split"):
        importer_for("fm-iqa", "fm-iqa", "test", "fmiqa").run()
