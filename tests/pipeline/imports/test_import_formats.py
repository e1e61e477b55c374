"""COCO Karpathy captions, image-class folders, regions with boxes, video QA, M3IT JSONL, generic CSV/JSONL."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image as PILImage

from annotator.models import Task
from pipeline.imports.adapters.classification import LETTERS, lettered_options, option_seed
from pipeline.media.images import box_line_width, read_image_bytes
from pipeline.media.video import frame_positions
from pipeline.models import Image, ParaphraseState, Sample
from tests.factories import InstructionFactory
from tests.pipeline.imports.files import (
    image_bytes,
    importer_for,
    write_image,
    write_json,
    write_jsonl,
    write_video,
)

pytestmark = pytest.mark.django_db


def _pixels(image: Image) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(read_image_bytes(image))).convert("RGB")).astype(int)


def test_coco_karpathy_one_sample_per_caption_of_the_chosen_split(import_root, tasks):
    folder = import_root / "coco"

    def entry(cocoid, split, subset, captions):
        return {
            "filepath": subset,
            "sentids": list(range(len(captions))),
            "filename": f"COCO_{subset}_{cocoid:012d}.jpg",
            "imgid": cocoid % 100,
            "split": split,
            "sentences": [
                {"tokens": c.lower().split(), "raw": c, "imgid": cocoid % 100, "sentid": cocoid * 10 + i}
                for i, c in enumerate(captions)
            ],
            "cocoid": cocoid,
        }

    images = [
        entry(1, "train", "train2014", ["A dog runs.", "A brown dog on grass."]),
        entry(2, "restval", "val2014", ["Two cats sleep."]),
        entry(3, "val", "val2014", ["A red bus."]),
        entry(4, "test", "val2014", ["A kite in the sky."]),
    ]
    write_json(folder / "dataset_coco.json", {"images": images, "dataset": "coco"})
    for item in images:
        write_image(folder / "images" / item["filepath"] / item["filename"], colour=(item["cocoid"] * 40, 0, 0))

    outcome = importer_for("coco-karpathy", "coco", "train", "coco").run()
    train = Sample.objects.filter(task__slug="coco", split="train")
    # train = Karpathy train + restval: 2 + 1 captions.
    assert outcome.created == 3
    assert sorted(s.outputs for s in train) == ["A brown dog on grass.", "A dog runs.", "Two cats sleep."]
    dog = train.get(source_id="1-11")
    assert (dog.inputs, dog.paraphrase_state, dog.meta["karpathy_split"]) == ("", ParaphraseState.NOT_NEEDED, "train")
    assert Image.objects.count() == 2

    importer_for("coco-karpathy", "coco", "test", "coco").run()
    assert list(Sample.objects.filter(task__slug="coco", split="test").values_list("outputs", flat=True)) == [
        "A kite in the sky."
    ]


def test_lettered_options_place_gold_at_the_seeded_position():
    labels = [f"class {i}" for i in range(30)]
    options, gold_at = lettered_options("class 7", labels, 10, seed=1234)
    assert len(options) == 10 == len(set(options))
    assert options[gold_at] == "class 7"
    assert lettered_options("class 7", labels, 10, seed=1234) == (options, gold_at)  # same seed, same options
    positions = {lettered_options("class 7", labels, 10, seed=s)[1] for s in range(200)}
    assert positions == set(range(10))  # the gold is not stuck in one slot


def test_image_folder_gives_ten_lettered_options(import_root, tasks):
    folder = import_root / "imagenet"
    classes = [f"n0{i:07d}" for i in range(12)]
    for index, synset in enumerate(classes):
        write_image(folder / "images" / synset / f"{synset}_1.JPEG", colour=(index * 20, 10, 10))
    (folder / "mapping.txt").write_text("".join(f"{s} label{i}, other name\n" for i, s in enumerate(classes)))

    outcome = importer_for("image-folder", "imagenet", "val", "imagenet").run()

    assert outcome.created == 12
    sample = Sample.objects.get(task__slug="imagenet", split="val", source_id=f"{classes[3]}/{classes[3]}_1.JPEG")
    lines = sample.inputs.split("\n")
    assert lines[0] == "What is the main object in this image?" and lines[1] == "Options:"
    options = lines[2:]
    assert [o[:3] for o in options] == [f"({letter})" for letter in LETTERS[:10]]
    expected, gold_at = lettered_options(
        "label3", [f"label{i}" for i in range(12)], 10, option_seed("imagenet", "val", sample.source_id)
    )
    assert [o[4:] for o in options] == expected
    assert sample.outputs == f"({LETTERS[gold_at]}) label3" == options[gold_at]
    assert sample.paraphrase_state == ParaphraseState.NOT_NEEDED


def test_region_boxes_drawn_in_red_on_a_derived_copy(import_root, tasks):
    folder = import_root / "regions"
    write_image(folder / "images" / "street.png", colour=(0, 128, 0), size=(400, 300))
    write_jsonl(
        folder / "regions.jsonl",
        [
            {
                "id": "r1",
                "image": "street.png",
                "boxes": [[50, 40, 200, 160]],
                "inputs": "What is boxed?",
                "output": "a car",
            },
            {
                "id": "r2",
                "image": "street.png",
                "boxes": [[10, 10, 60, 60], [300, 200, 390, 290]],
                "output": "two signs",
            },
        ],
    )
    importer_for("regions", "coco-goi", "train", "regions").run()

    original = Image.objects.get(derived_from__isnull=True)
    r1 = Sample.objects.get(source_id="r1").images.get()
    assert r1.derived_from == original and r1.derivation["boxes"] == [[50.0, 40.0, 200.0, 160.0]]
    assert r1.derivation["line_width"] == box_line_width(400, 300) == 3
    pixels = _pixels(r1)
    red, green = np.array([255, 0, 0]), np.array([0, 128, 0])
    # Every edge of the box is red: top, bottom, left, right (middle of each side, inner line pixels).
    for y, x in [(40, 125), (41, 125), (160, 125), (159, 125), (100, 50), (100, 52), (100, 200), (100, 198)]:
        assert (pixels[y, x] == red).all(), (y, x, pixels[y, x])
    # Inside and outside the box the image is untouched.
    for y, x in [(100, 125), (20, 20), (250, 350)]:
        assert (pixels[y, x] == green).all()
    # The original stays as it was.
    assert (_pixels(original)[40, 125] == green).all()
    r2 = _pixels(Sample.objects.get(source_id="r2").images.get())
    assert (r2[10, 35] == red).all() and (r2[245, 300] == red).all()


def test_video_qa_samples_eight_uniform_frames(import_root, tasks):
    folder = import_root / "msrvtt"
    total = 30
    # Frame i has a distinct colour: red channel steps by 8, so a sampled frame tells its index.
    colours = [(i * 8, 255 - i * 8, 100) for i in range(total)]
    write_video(folder / "videos" / "video7.mp4", colours)
    write_json(
        folder / "train_qa.json",
        [
            {"answer": "dance", "id": 0, "question": "what is the woman doing?", "video_id": 7, "category_id": 3},
            {"answer": "two", "id": 1, "question": "how many people are there?", "video_id": 7, "category_id": 3},
        ],
    )
    outcome = importer_for("video-qa", "msrvtt-qa", "train", "msrvtt").run()
    assert outcome.created == 2

    positions = frame_positions(total, 8)
    assert positions == [0, 4, 8, 12, 17, 21, 25, 29]  # linspace(0, 29, 8) rounded, by hand
    sample = Sample.objects.get(source_id="0")
    frames = [link.image for link in sample.sample_images.order_by("position")]
    assert len(frames) == 8
    for frame, index in zip(frames, positions, strict=True):
        r, g, _b = _pixels(frame)[24, 32]
        assert abs(r - index * 8) <= 3 and abs(g - (255 - index * 8)) <= 3, (index, r, g)
    # The second question on the same video reuses the same eight frames.
    assert [link.image_id for link in Sample.objects.get(source_id="1").sample_images.all()] == [f.pk for f in frames]
    assert sample.paraphrase_state == ParaphraseState.PENDING and sample.outputs == "dance"


def test_m3it_jsonl_reimport_keeps_pool_instruction(import_root, tasks):
    task = Task.objects.get(slug="okvqa")
    kept = InstructionFactory(task=task, text="Answer the question using outside knowledge.")
    png = image_bytes((1, 2, 3))
    records = [
        {
            "instruction": "answer the question  using outside knowledge.",
            "inputs": "What is the capital?",
            "outputs": "The capital shown is Paris.",
            "image_base64_str": [base64.b64encode(png).decode()],
            "meta": {"source_id": "ok-1", "original_answer": "paris"},
        },
        {
            "instruction": "An instruction from elsewhere.",
            "inputs": "",
            "outputs": "A caption.",
            "image_base64_str": [base64.b64encode(png).decode(), base64.b64encode(image_bytes((9, 9, 9))).decode()],
            "meta": {},
        },
    ]
    write_jsonl(import_root / "m3it" / "train.jsonl", records)
    importer_for("m3it-jsonl", "okvqa", "train", "m3it").run()

    first = Sample.objects.get(source_id="ok-1")
    assert first.instruction == kept  # matched after whitespace and case folding
    assert (first.outputs, first.original_output) == ("The capital shown is Paris.", "paris")
    assert read_image_bytes(first.images.get()) == png
    second = Sample.objects.exclude(pk=first.pk).get()
    assert second.source_id.startswith("sha-") and second.sample_images.count() == 2
    assert second.meta["source_instruction"] == "An instruction from elsewhere."
    assert second.instruction == kept  # the only instruction in the pool, drawn


def test_generic_csv_with_field_mapping(import_root, tasks):
    folder = import_root / "generic"
    write_image(folder / "pics" / "a.png")
    write_image(folder / "pics" / "b.png", colour=(5, 5, 5))
    (folder / "rows.csv").write_text(
        "key,picture,q,a,note\nx1,a.png,Is it blue?,yes,first\nx2,a.png;b.png,Same picture?,no,second\n"
    )
    importer_for(
        "generic",
        "gqa",
        "val",
        "generic",
        files={"records": "rows.csv", "images": "pics"},
        options={
            "id_field": "key",
            "image_field": "picture",
            "inputs_field": "q",
            "output_field": "a",
            "short_answers": True,
        },
    ).run()
    x2 = Sample.objects.get(source_id="x2")
    assert (x2.inputs, x2.outputs, x2.meta["note"]) == ("Same picture?", "no", "second")
    assert x2.sample_images.count() == 2 and x2.paraphrase_state == ParaphraseState.PENDING


def test_generic_jsonl_with_nested_fields(import_root, tasks):
    folder = import_root / "g2"
    write_image(folder / "images" / "c.png")
    write_jsonl(folder / "records.jsonl", [{"meta": {"uid": "n1"}, "img": ["c.png"], "caption": "A blue square."}])
    importer_for(
        "generic",
        "coco",
        "val",
        "g2",
        options={"id_field": "meta.uid", "image_field": "img", "output_field": "caption", "meta_fields": "meta"},
    ).run()
    sample = Sample.objects.get(source_id="n1")
    assert sample.outputs == "A blue square." and sample.inputs == ""
    assert sample.meta == {"source_dataset": "generic", "meta": {"uid": "n1"}}
    assert json.loads(json.dumps(sample.meta))  # stored as plain JSON
