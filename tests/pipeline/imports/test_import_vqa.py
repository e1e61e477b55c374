"""VQA v2, OK-VQA and A-OKVQA files through the importer."""

from __future__ import annotations

import pytest

from annotator.models import Task
from pipeline.imports.adapters.vqa import most_common_answer
from pipeline.models import Image, ParaphraseState, Sample
from tests.factories import InstructionFactory
from tests.pipeline.imports.files import importer_for, vqa_annotation, write_image, write_json, write_vqa

pytestmark = pytest.mark.django_db


def test_most_common_answer_breaks_ties_with_the_preferred_answer():
    assert most_common_answer(["two", "2", "2", "two", "3"], preferred="two") == "two"
    assert most_common_answer(["two", "2", "2", "two", "3"], preferred="3") == "two"  # 3 is not tied
    assert most_common_answer(["yes", "no", "yes"]) == "yes"


def test_vqa_v2_import_picks_most_common_answer_and_keeps_all(import_root, tasks):
    folder = import_root / "vqa"
    questions = [
        {"image_id": 101, "question": "What colour is the bus?", "question_id": 1010},
        {"image_id": 101, "question": "How many people?", "question_id": 1011},
        {"image_id": 202, "question": "Is it raining?", "question_id": 2020},
    ]
    # Annotations deliberately in another order than the questions: the join is by question_id.
    annotations = [
        vqa_annotation(2020, 202, ["no"] * 7 + ["yes"] * 3),
        vqa_annotation(1010, 101, ["red"] * 4 + ["dark red"] * 4 + ["orange"] * 2, mc="dark red"),
        vqa_annotation(1011, 101, ["3", "3", "three", "4", "3", "2", "3", "three", "3", "3"]),
    ]
    write_vqa(folder, questions, annotations, image_ids=[101, 202])
    task = Task.objects.get(slug="vqa-v2")
    pool = [InstructionFactory(task=task) for _ in range(3)]

    outcome = importer_for("vqa-v2", "vqa-v2", "train", "vqa").run()

    assert (outcome.records, outcome.created, outcome.skipped, outcome.rejected) == (3, 3, 0, 0)
    samples = {s.source_id: s for s in Sample.objects.filter(task=task, split="train")}
    assert samples["1010"].outputs == "dark red"  # 4-4 tie, multiple_choice_answer wins
    assert samples["1011"].outputs == "3"
    assert samples["2020"].original_output == "no"
    assert samples["1010"].inputs == "What colour is the bus?"
    assert samples["1011"].meta["answers"] == ["3", "3", "three", "4", "3", "2", "3", "three", "3", "3"]
    assert samples["1011"].meta["image_id"] == 101
    assert all(s.paraphrase_state == ParaphraseState.PENDING for s in samples.values())
    assert all(s.instruction in pool and s.instruction_seed is not None for s in samples.values())
    # Two questions share image 101: it is stored once.
    assert Image.objects.count() == 2
    assert samples["1010"].images.get() == samples["1011"].images.get()
    assert (samples["2020"].images.get().width, samples["2020"].images.get().height) == (64, 16)


def test_okvqa_reads_the_same_format(import_root, tasks):
    write_vqa(
        import_root / "ok",
        [{"image_id": 7, "question": "What sport is this?", "question_id": 70}],
        [vqa_annotation(70, 7, ["tennis"] * 6 + ["badminton"] * 4)],
        image_ids=[7],
    )
    outcome = importer_for("okvqa", "okvqa", "val", "ok").run()
    sample = Sample.objects.get(task__slug="okvqa", split="val")
    assert outcome.created == 1
    assert (sample.outputs, sample.meta["source_dataset"]) == ("tennis", "okvqa")


def test_question_without_annotation_is_rejected_with_its_item(import_root, tasks):
    write_vqa(
        import_root / "vqa",
        [
            {"image_id": 1, "question": "Q one?", "question_id": 11},
            {"image_id": 1, "question": "Q two?", "question_id": 12},
        ],
        [vqa_annotation(11, 1, ["a"])],
        image_ids=[1],
    )
    outcome = importer_for("vqa-v2", "vqa-v2", "train", "vqa", max_rejected=5).run()
    assert (outcome.created, outcome.rejected) == (1, 1)
    assert outcome.first_rejected[0]["message"] == "question 12 has no annotation"
    assert (outcome.first_rejected[0]["file"], outcome.first_rejected[0]["line"]) == ("questions.json", 2)


def _aokvqa_record(qid: str, image_id: int, **extra):
    record = {
        "split": "train",
        "image_id": image_id,
        "question_id": qid,
        "question": "What is the man about to do?",
        "choices": ["eat", "surf", "sleep", "run"],
        "correct_choice_idx": 1,
        "direct_answers": ["surf", "surf", "swim", "surf", "surfing", "surf", "surf", "swim", "surf", "surf"],
        "difficult_direct_answer": False,
        "rationales": ["He holds a surfboard.", "He is at the beach.", "Waves."],
    }
    record.update(extra)
    return record


def test_aokvqa_direct_and_choice_modes(import_root, tasks):
    folder = import_root / "aok"
    write_json(folder / "aokvqa_v1p0_train.json", [_aokvqa_record("q1", 42), _aokvqa_record("q2", 43)])
    write_image(folder / "images" / "000000000042.jpg")
    write_image(folder / "images" / "000000000043.jpg", colour=(1, 2, 3))

    importer_for("a-okvqa", "a-okvqa", "train", "aok").run()
    direct = Sample.objects.get(task__slug="a-okvqa", split="train", source_id="q1")
    assert (direct.outputs, direct.paraphrase_state) == ("surf", ParaphraseState.PENDING)
    assert direct.meta["rationales"][0] == "He holds a surfboard."
    assert direct.meta["choices"] == ["eat", "surf", "sleep", "run"]

    importer_for("a-okvqa", "a-okvqa", "val", "aok", options={"answer_mode": "choice"}).run()
    choice = Sample.objects.get(task__slug="a-okvqa", split="val", source_id="q1")
    assert choice.outputs == "(B) surf"
    assert choice.inputs.endswith("Options:\n(A) eat\n(B) surf\n(C) sleep\n(D) run")
    assert choice.paraphrase_state == ParaphraseState.NOT_NEEDED


def test_vqa_v2_keeps_coco_captions_for_the_paraphrase_prompt(import_root, tasks):
    folder = import_root / "vqa"
    write_vqa(
        folder,
        [
            {"image_id": 5, "question": "What animal?", "question_id": 50},
            {"image_id": 6, "question": "What colour?", "question_id": 60},
        ],
        [vqa_annotation(50, 5, ["dog"]), vqa_annotation(60, 6, ["red"])],
        image_ids=[5, 6],
    )
    captions = [{"image_id": 5, "id": 100 + i, "caption": f" A dog, caption {i}. "} for i in range(7)]
    captions.insert(3, {"image_id": 9, "id": 99, "caption": "Another image."})
    write_json(folder / "captions.json", {"images": [], "annotations": captions})

    importer_for("vqa-v2", "vqa-v2", "train", "vqa").run()

    dog = Sample.objects.get(source_id="50")
    assert dog.meta["captions"] == [f"A dog, caption {i}." for i in range(5)]  # the first five, trimmed
    assert Sample.objects.get(source_id="60").meta["captions"] == []
