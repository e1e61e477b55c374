"""coco-goi (instances JSON), COCO-Text v2 and COCO image-text matching, in the published layouts."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.imports.adapters.base import LETTERS
from pipeline.imports.adapters.classification import lettered_options, option_seed
from pipeline.models import Image, ParaphraseState, Sample
from tests.pipeline.imports.adapters.sources import image_numbers, pixels, rejected_messages, run_import, write_numbered
from tests.pipeline.imports.files import write_image, write_json

pytestmark = pytest.mark.django_db


def _instances(annotations: list[dict]) -> dict:
    # The official files put categories last, after the (large) annotations list.
    return {
        "info": {"year": 2017},
        "licenses": [],
        "images": [{"id": 42, "file_name": "000000000042.jpg", "width": 400, "height": 300}],
        "annotations": annotations,
        "categories": [
            {"supercategory": "animal", "id": 18, "name": "dog"},
            {"supercategory": "animal", "id": 17, "name": "cat"},
            {"supercategory": "vehicle", "id": 3, "name": "car"},
            {"supercategory": "food", "id": 52, "name": "banana"},
            {"supercategory": "furniture", "id": 62, "name": "chair"},
        ],
    }


def test_coco_goi_draws_the_object_box_and_asks_with_lettered_options(import_root, tasks):
    folder = import_root / "goi"
    annotations = [
        {
            "id": 1001,
            "image_id": 42,
            "category_id": 18,
            "bbox": [50.0, 40.0, 150.0, 120.0],
            "area": 18000.0,
            "iscrowd": 0,
            "segmentation": [[20, 30, 120, 30, 120, 110]],
        },
        {
            "id": 1002,
            "image_id": 42,
            "category_id": 17,
            "bbox": [0, 0, 50, 50],
            "area": 2500,
            "iscrowd": 1,
            "segmentation": {"counts": [1], "size": [150, 200]},
        },
        {"id": 1003, "image_id": 42, "category_id": 3, "bbox": [10, 10, 0, 5], "area": 0, "iscrowd": 0},
        {"id": 1004, "image_id": 42, "category_id": 999, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0},
        {"id": 1005, "image_id": 77, "category_id": 3, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0},
    ]
    write_json(folder / "instances_val2017.json", _instances(annotations))
    write_image(folder / "val2017" / "000000000042.jpg", colour=(0, 128, 0), size=(400, 300))

    outcome = run_import(
        "coco-goi", "coco-goi", "val", "goi", files={"instances": "instances_val2017.json", "images": "val2017"}
    )

    assert (outcome.created, outcome.rejected) == (1, 3)  # the crowd region is skipped, not rejected
    assert rejected_messages(outcome) == [
        "instances_val2017.json annotation 3: bbox [10, 10, 0, 5] is empty or negative",
        "instances_val2017.json annotation 4: unknown category_id 999",
        "instances_val2017.json annotation 5: no image file for image_id 77",
    ]
    sample = Sample.objects.get(task__slug="coco-goi", split="val")
    expected, gold_at = lettered_options(
        "dog", ["banana", "car", "cat", "chair", "dog"], 4, option_seed("coco-goi", "val", "1001")
    )
    lines = sample.inputs.split("\n")
    assert lines[:2] == ["What is the object in the red box?", "Options:"]
    assert lines[2:] == [f"({LETTERS[i]}) {name}" for i, name in enumerate(expected)]
    assert sample.outputs == f"({LETTERS[gold_at]}) dog" and "dog" in expected and len(expected) == 4
    assert sample.paraphrase_state == ParaphraseState.NOT_NEEDED
    assert sample.meta["annotation_id"] == 1001 and sample.meta["bbox"] == [50.0, 40.0, 150.0, 120.0]
    boxed = sample.images.get()
    assert boxed.derived_from == Image.objects.get(derived_from__isnull=True)
    assert boxed.derivation["boxes"] == [[50.0, 40.0, 200.0, 160.0]]  # [x, y, w, h] → corners
    grid = pixels(boxed)
    for y, x in [(41, 125), (159, 125), (100, 51), (100, 199)]:  # the four edges are red (JPEG-blurred)
        red, green, blue = grid[y, x]
        assert red > 150 and green < 90 and blue < 90, (y, x, grid[y, x])
    assert np.abs(grid[100, 125] - np.array([0, 128, 0])).max() < 40  # the inside is untouched


def _coco_text() -> dict:
    def ann(ann_id, image_id, bbox, cls, legibility, language, text=None):
        entry = {
            "mask": [],
            "class": cls,
            "bbox": bbox,
            "image_id": image_id,
            "id": ann_id,
            "language": language,
            "area": bbox[2] * bbox[3],
            "legibility": legibility,
        }
        if text is not None:
            entry["utf8_string"] = text
        return entry

    # "anns" comes before "imgs" here: the adapter must not depend on the order of the keys.
    return {
        "cats": {},
        "anns": {
            "1": ann(1, 42, [5, 5, 30, 10], "machine printed", "legible", "english", "STOP"),
            "2": ann(2, 42, [40, 20, 15, 8], "handwritten", "illegible", "na"),
            "3": ann(3, 43, [2, 2, 10, 10], "machine printed", "legible", "english", "EXIT"),
            "4": ann(4, 42, [1, 1, 5, 5], "machine printed", "unreadable", "english", "?"),
        },
        "imgs": {
            "42": {"id": 42, "set": "train", "width": 64, "height": 48, "file_name": "COCO_train2014_000000000042.jpg"},
            "43": {"id": 43, "set": "val", "width": 64, "height": 48, "file_name": "COCO_train2014_000000000043.jpg"},
        },
        "imgToAnns": {"42": [1, 2, 4], "43": [3]},
        "info": {"version": "2.0"},
    }


def test_coco_text_regions_per_set_with_the_text_box_drawn(import_root, tasks):
    folder = import_root / "cocotext"
    write_json(folder / "cocotext.v2.json", _coco_text())
    write_image(folder / "train2014" / "COCO_train2014_000000000042.jpg", colour=(200, 200, 200), size=(64, 48))
    write_image(folder / "train2014" / "COCO_train2014_000000000043.jpg", colour=(100, 100, 100), size=(64, 48))

    train = run_import("coco-text", "coco-text", "train", "cocotext")
    val = run_import("coco-text", "coco-text", "val", "cocotext")
    texts = run_import(
        "coco-text", "coco-text", "test", "cocotext", options={"attribute": "text", "source_split": "train"}
    )

    assert (train.created, train.rejected, val.created) == (2, 1, 1)
    assert rejected_messages(train) == [
        "cocotext.v2.json annotation 4: legibility 'unreadable' is not one of legible, illegible"
    ]
    stop = Sample.objects.get(split="train", source_id="1")
    assert stop.inputs == "Is the text in the red box legible?\nOptions:\n(A) legible\n(B) illegible"
    assert stop.outputs == "(A) legible"
    assert Sample.objects.get(split="train", source_id="2").outputs == "(B) illegible"
    assert stop.meta["utf8_string"] == "STOP" and stop.meta["image_id"] == 42
    assert stop.images.get().derivation["boxes"] == [[5.0, 5.0, 35.0, 15.0]]
    # The text attribute reads the legible strings only.
    assert texts.created == 1
    assert Sample.objects.get(split="test").outputs == "STOP"


def test_coco_itm_seeded_negatives_come_from_other_images(import_root, tasks):
    folder = import_root / "itm"
    captions = {1: ["A dog on a sofa.", "A brown dog resting."], 2: ["A red bus."], 3: ["Two kites in the sky."]}
    annotations = [
        {"image_id": image_id, "id": image_id * 10 + n, "caption": caption}
        for image_id, texts in captions.items()
        for n, caption in enumerate(texts)
    ]
    write_json(
        folder / "captions_val2017.json",
        {"info": {}, "licenses": [], "images": [{"id": i} for i in captions], "annotations": annotations},
    )
    for image_id in captions:
        write_numbered(folder / "val2017" / f"{image_id:012d}.jpg", image_id)
    files = {"captions": "captions_val2017.json", "images": "val2017"}

    run_import("coco-itm", "coco-itm", "train", "itm", files=files, options={"negative_percent": 100})
    run_import("coco-itm", "coco-itm", "val", "itm", files=files, options={"negative_percent": 0})
    mixed = run_import("coco-itm", "coco-itm", "test", "itm", files=files)

    negatives = Sample.objects.filter(split="train")
    assert negatives.count() == 4 and {s.outputs for s in negatives} == {"no"}
    for sample in negatives:
        other = sample.meta["negative_from_image_id"]
        assert other != sample.meta["image_id"] and sample.meta["caption"] in captions[other]
        assert sample.inputs == f"Text: {sample.meta['caption']}\nDoes the text describe the image?"
        assert image_numbers(sample) == [sample.meta["image_id"]]
    positives = Sample.objects.filter(split="val")
    assert {s.outputs for s in positives} == {"yes"}
    assert (
        Sample.objects.get(split="val", source_id="20").inputs == "Text: A red bus.\nDoes the text describe the image?"
    )
    # 50 %: the same seeded choices on every run.
    first = dict(Sample.objects.filter(split="test").values_list("source_id", "outputs"))
    Sample.objects.filter(split="test").delete()
    again = run_import("coco-itm", "coco-itm", "test", "itm", files=files)
    assert (mixed.created, again.created) == (4, 4)
    assert dict(Sample.objects.filter(split="test").values_list("source_id", "outputs")) == first
