"""ScienceQA, ViQuAE, NLVR2 and VCR in their release layouts, through the importer."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image as PILImage

from pipeline.imports.adapters.reasoning import vcr_text
from pipeline.media.images import BOX_COLOURS, read_image_bytes
from pipeline.models import Image, ParaphraseState, Sample
from tests.pipeline.imports.files import importer_for, write_image, write_json, write_jsonl

pytestmark = pytest.mark.django_db


def _samples(task: str, split: str) -> dict[str, Sample]:
    return {s.source_id: s for s in Sample.objects.filter(task__slug=task, split=split)}


def _pixels(image: Image) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(read_image_bytes(image))).convert("RGB")).astype(int)


def _problem(split: str, image: str | None, **extra) -> dict:
    problem = {
        "question": "Which of these states is farthest north?",
        "choices": ["West Virginia", "Louisiana", "Arizona", "Oklahoma"],
        "answer": 0,
        "hint": "",
        "image": image,
        "task": "closed choice",
        "grade": "grade2",
        "subject": "social science",
        "topic": "geography",
        "category": "Geography",
        "skill": "Read a map: cardinal directions",
        "lecture": "Maps have four cardinal directions.",
        "solution": "West Virginia is farthest north.",
        "split": split,
    }
    problem.update(extra)
    return problem


def test_science_qa_lettered_options_hint_and_text_only_problems(import_root, tasks):
    folder = import_root / "scienceqa"
    problems = {
        "1": _problem("train", "image.png"),
        "2": _problem(
            "train",
            None,
            hint="Tom has a red ball.",
            question="What colour is Tom's ball?",
            choices=["red", "blue"],
            answer=1 - 1,
        ),
        "3": _problem("val", "image.png"),
        "4": _problem("train", "image.png", answer=7),
        "5": _problem("train", "image.png"),  # image missing on disk
    }
    write_json(folder / "problems.json", problems)
    write_image(folder / "images" / "train" / "1" / "image.png")
    write_image(folder / "images" / "train" / "4" / "image.png")
    write_image(folder / "images" / "val" / "3" / "image.png")

    outcome = importer_for("science-qa", "science-qa", "train", "scienceqa", max_rejected=2).run()

    assert (outcome.created, outcome.rejected) == (2, 2)
    messages = {row["source_id"]: row["message"] for row in outcome.first_rejected}
    assert messages == {
        "4": "answer index 7 is not an index into the 4 choices",
        "5": "no image file train/5/image.png in images",
    }
    samples = _samples("science-qa", "train")
    first = samples["1"]
    assert first.inputs == (
        "Which of these states is farthest north?\nOptions:\n"
        "(A) West Virginia\n(B) Louisiana\n(C) Arizona\n(D) Oklahoma"
    )
    assert first.outputs == "(A) West Virginia"
    assert first.paraphrase_state == ParaphraseState.NOT_NEEDED
    assert (first.meta["solution"], first.meta["skill"]) == (
        "West Virginia is farthest north.",
        "Read a map: cardinal directions",
    )
    text_only = samples["2"]
    assert text_only.inputs == "Context: Tom has a red ball.\nWhat colour is Tom's ball?\nOptions:\n(A) red\n(B) blue"
    assert text_only.meta["has_image"] is False
    blank = text_only.images.get()
    assert (blank.width, blank.height) == (224, 224) and (_pixels(blank) == 255).all()

    importer_for("science-qa", "science-qa", "val", "scienceqa", options={"without_image": "skip"}).run()
    assert list(_samples("science-qa", "val")) == ["3"]


def test_viquae_keeps_kilt_and_wikipedia_ids(import_root, tasks):
    folder = import_root / "viquae"
    record = {
        "id": "tcb_511",
        "input": "this singer's re-issued song became the UK Christmas number one after advertising what brand?",
        "kilt_id": "tc_2471",
        "meta": {"left_context": "", "mention": "Jackie Wilson"},
        "original_question": "Jackie Wilson's re-issued song...",
        "output": {
            "original_answer": "Levi's",
            "answer": ["Levi's", "Levi Strauss"],
            "provenance": [{"wikipedia_id": "1527467", "title": "Levi Strauss & Co."}],
        },
        "url": "http://upload.wikimedia.org/wikipedia/commons/thumb/a/ae/Jackie_Wilson.png/512px-Jackie_Wilson.png",
        "wikidata_id": "Q310819",
        "image": "512px-Jackie_Wilson.png",
    }
    lines = [json.dumps(record), "{not json", json.dumps({**record, "id": "tcb_512", "output": {}})]
    (folder).mkdir()
    (folder / "validation.jsonl").write_text("\n".join(lines) + "\n")
    write_image(folder / "images" / "512px-Jackie_Wilson.png")

    outcome = importer_for(
        "viquae", "viquae", "val", "viquae", max_rejected=2, files={"questions": "validation.jsonl"}
    ).run()

    assert (outcome.created, outcome.rejected) == (1, 2)
    assert [(r["line"], r["message"][:14]) for r in outcome.first_rejected] == [
        (2, "not valid JSON"),
        (3, "output has nei"),
    ]
    assert outcome.first_rejected[1]["message"] == "output has neither original_answer nor answer"
    sample = _samples("viquae", "val")["tcb_511"]
    assert sample.outputs == "Levi's" and sample.paraphrase_state == ParaphraseState.PENDING
    assert sample.inputs.startswith("this singer's re-issued song")
    assert (sample.meta["kilt_id"], sample.meta["wikipedia_id"], sample.meta["wikidata_id"]) == (
        "tc_2471",
        "1527467",
        "Q310819",
    )
    assert sample.meta["answers"] == ["Levi's", "Levi Strauss"]


def test_nlvr2_two_images_in_left_right_order(import_root, tasks):
    folder = import_root / "nlvr2"

    def example(identifier: str, label: str) -> dict:
        return {
            "validation": {"W0": "True"},
            "sentence": "The left image contains twice the number of dogs as the right image.",
            "left_url": "https://example.org/left.jpg",
            "writer": "103",
            "label": label,
            "right_url": "https://example.org/right.jpg",
            "synset": "n02087394",
            "query": "Rhodesian ridgeback57",
            "identifier": identifier,
            "extra_validations": {},
        }

    write_jsonl(
        folder / "train.json",
        [example("train-10171-0-0", "True"), example("train-10171-0-1", "False"), example("train-99-1-0", "maybe")],
    )
    # Train images sit in numbered sub-folders; the names carry img0 (left) and img1 (right).
    write_image(folder / "images" / "train" / "17" / "train-10171-0-img0.png", colour=(255, 255, 0))
    write_image(folder / "images" / "train" / "17" / "train-10171-0-img1.png", colour=(0, 255, 255))

    outcome = importer_for("nlvr", "nlvr", "train", "nlvr2", max_rejected=1).run()

    assert (outcome.created, outcome.rejected) == (2, 1)
    assert outcome.first_rejected[0]["message"] == "label 'maybe' is neither True nor False"
    samples = _samples("nlvr", "train")
    true, false = samples["train-10171-0-0"], samples["train-10171-0-1"]
    assert (true.outputs, false.outputs) == ("yes", "no")
    assert true.inputs == "The left image contains twice the number of dogs as the right image."
    left, right = (link.image for link in true.sample_images.order_by("position"))
    assert tuple(_pixels(left)[5, 5]) == (255, 255, 0) and tuple(_pixels(right)[5, 5]) == (0, 255, 255)
    assert [link.image_id for link in false.sample_images.order_by("position")] == [left.pk, right.pk]


def _vcr_record(**extra) -> dict:
    record = {
        "movie": "3015_CHARLIE_ST_CLOUD",
        "objects": ["person", "person", "person", "car"],
        "interesting_scores": [0],
        "answer_likelihood": "possible",
        "img_fn": "lsmdc_3015_CHARLIE_ST_CLOUD/3015_CHARLIE_ST_CLOUD_00.23.57.935-00.24.00.783@0.jpg",
        "metadata_fn": "lsmdc_3015_CHARLIE_ST_CLOUD/3015_CHARLIE_ST_CLOUD_00.23.57.935-00.24.00.783@0.json",
        "answer_orig": "No she does not",
        "question_orig": "Does 3 feel comfortable?",
        "rationale_orig": "She is standing with her arms crossed and looks disturbed",
        "question": ["Does", [2], "feel", "comfortable", "?"],
        "answer_match_iter": [3, 0, 2, 1],
        "answer_sources": [3287, 0, 10184, 2260],
        "answer_choices": [
            ["Yes", "because", "the", "person", "sitting", "next", "to", "her", "is", "smiling", "."],
            ["No", "she", "does", "not", "."],
            ["Yes", ",", [0], "is", "driving", [3], "."],
            ["Yes", ",", "she", "is", "cold", "."],
        ],
        "answer_label": 1,
        "rationale_choices": [
            ["There", "is", "snow", "on", "the", "ground", "."],
            ["She", "is", "standing", "with", "her", "arms", "crossed", "and", "looks", "disturbed", "."],
            [[2, 1], "are", "tense", "."],
            [[2], "is", "laying", "in", "bed", "."],
        ],
        "rationale_label": 1,
        "img_id": "train-0",
        "question_number": 0,
        "annot_id": "train-0",
        "match_fold": "train-0",
        "match_index": 0,
    }
    record.update(extra)
    return record


def test_vcr_text_names_objects_by_box_colour():
    colours = {2: "red", 0: "blue", 3: "green"}
    objects = ["person", "person", "person", "car"]
    assert vcr_text(["Does", [2], "feel", "comfortable", "?"], objects, colours) == (
        "Does the person in the red box feel comfortable?"
    )
    assert vcr_text([[2, 0], "are", "n't", "driving", [3], "."], objects, colours) == (
        "The person in the red box and the person in the blue box aren't driving the car in the green box."
    )


def test_vcr_draws_each_referenced_object_in_its_own_colour(import_root, tasks):
    folder = import_root / "vcr"
    record = _vcr_record()
    write_jsonl(folder / "train.jsonl", [record, _vcr_record(annot_id="test-1", answer_label=None)])
    images = folder / "vcr1images"
    write_image(images / record["img_fn"], colour=(0, 0, 0), size=(300, 200))
    boxes = [[10, 10, 60, 90, 0.99], [70, 10, 120, 90, 0.9], [150, 20, 280, 180, 0.98], [200, 100, 290, 190, 0.7]]
    write_json(
        images / record["metadata_fn"],
        {"boxes": boxes, "segms": [], "names": record["objects"], "width": 300, "height": 200},
    )

    outcome = importer_for("vcr", "vcr", "train", "vcr", max_rejected=1).run()

    assert (outcome.created, outcome.rejected) == (1, 1)
    assert (
        outcome.first_rejected[0]["message"]
        == "no answer_label/rationale_label (VCR's test annotations are unlabelled)"
    )
    sample = _samples("vcr", "train")["train-0"]
    # Objects in order of first mention: 2 (question), 0 and 3 (third answer) → red, blue, green.
    assert sample.meta["box_colours"] == {"2": "red", "0": "blue", "3": "green"}
    assert sample.inputs == (
        "Does the person in the red box feel comfortable?\nOptions:\n"
        "(A) Yes because the person sitting next to her is smiling.\n"
        "(B) No she does not.\n"
        "(C) Yes, the person in the blue box is driving the car in the green box.\n"
        "(D) Yes, she is cold."
    )
    assert sample.outputs == "(B) No she does not."
    image = sample.images.get()
    assert image.derivation["colour"] == ["red", "blue", "green"]
    assert image.derivation["boxes"] == [
        [150.0, 20.0, 280.0, 180.0],
        [10.0, 10.0, 60.0, 90.0],
        [200.0, 100.0, 290.0, 190.0],
    ]
    pixels = _pixels(image)
    for (y, x), name in [((20, 215), "red"), ((50, 10), "blue"), ((190, 245), "green")]:
        # The image is a JPEG, so compare with the nearest colour of the palette (and black, the picture).
        palette = {**BOX_COLOURS, "black": (0, 0, 0)}
        nearest = min(palette, key=lambda n: np.abs(pixels[y, x] - np.array(palette[n])).sum())
        assert nearest == name, (name, pixels[y, x])
    assert (pixels[50, 95] <= 40).all()  # object 1 is not referenced: no box drawn there

    importer_for("vcr", "vcr", "val", "vcr", max_rejected=1, options={"mode": "qar"}).run()
    rationale = _samples("vcr", "val")["train-0-rationale"]
    assert rationale.inputs.startswith(
        "Does the person in the red box feel comfortable?\nAnswer: No she does not.\nWhy?"
    )
    assert rationale.outputs == "(B) She is standing with her arms crossed and looks disturbed."
    assert rationale.meta["box_colours"] == {"2": "red", "1": "blue"}
