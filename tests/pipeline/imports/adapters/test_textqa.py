"""DocVQA, ST-VQA, TextVQA, OCR-VQA and VisualMRC in their release layouts, through the importer."""

from __future__ import annotations

import pytest

from annotator.models import TaskSplit
from pipeline.imports.importer import ImportRejected
from pipeline.models import ParaphraseState, Sample
from pipeline.paraphrase.prompt import build_messages
from pipeline.paraphrase.runner import context_of, start_paraphrase
from tests.factories import AdminFactory
from tests.pipeline.fake_llm import FakeLLM
from tests.pipeline.imports.files import importer_for, write_image, write_json

pytestmark = pytest.mark.django_db


def _samples(task: str, split: str) -> dict[str, Sample]:
    return {s.source_id: s for s in Sample.objects.filter(task__slug=task, split=split)}


def test_docvqa_questions_with_page_ocr(import_root, tasks):
    folder = import_root / "docvqa" / "train"
    data = [
        {
            "questionId": 52212,
            "question": "What is the date mentioned in this letter?",
            "question_types": ["handwritten", "form"],
            "image": "documents/xnbl0037_1.png",
            "docId": 1968,
            "ucsf_document_id": "xnbl0037",
            "ucsf_document_page_no": "1",
            "answers": ["1/8/93", "1/8/93", "January 8, 1993"],
            "data_split": "train",
        },
        {
            "questionId": 52213,
            "question": "Who signed it?",
            "image": "documents/xnbl0037_1.png",
            "docId": 1968,
            "ucsf_document_id": "xnbl0037",
            "ucsf_document_page_no": "1",
            "answers": ["R. Smith"],
        },
        # No answers (the test split's shape): rejected, with its item number.
        {"questionId": 52214, "question": "Why?", "image": "documents/xnbl0037_1.png", "docId": 1968},
    ]
    write_json(folder / "train_v1.0.json", {"dataset_name": "docvqa", "dataset_split": "train", "data": data})
    write_image(folder / "documents" / "xnbl0037_1.png", size=(60, 80))
    write_json(
        folder / "ocr_results" / "xnbl0037_1.json",
        {
            "status": "Succeeded",
            "recognitionResults": [
                {"page": 1, "lines": [{"text": "Date: 1/8/93", "words": [{"text": "Date:"}, {"text": "1/8/93"}]}]}
            ],
        },
    )

    with pytest.raises(ImportRejected, match=r"train_v1\.0\.json item 3: missing field"):
        importer_for("docvqa", "docvqa", "train", "docvqa/train").run()
    outcome = importer_for("docvqa", "docvqa", "train", "docvqa/train", max_rejected=1).run()

    assert (outcome.records, outcome.created, outcome.rejected) == (3, 2, 1)
    assert outcome.first_rejected[0]["source_id"] == "52214"
    sample = _samples("docvqa", "train")["52212"]
    assert sample.inputs == "What is the date mentioned in this letter?"
    assert sample.outputs == "1/8/93"
    assert sample.paraphrase_state == ParaphraseState.PENDING
    assert sample.meta["answers"] == ["1/8/93", "1/8/93", "January 8, 1993"]
    assert sample.meta["ocr_tokens"] == ["Date:", "1/8/93"]
    assert (sample.meta["doc_id"], sample.meta["question_types"]) == (1968, ["handwritten", "form"])
    assert (sample.images.get().width, sample.images.get().height) == (60, 80)


def test_st_vqa_task_file_with_paths_below_the_images_folder(import_root, tasks):
    folder = import_root / "stvqa"
    data = [
        {
            "question_id": 1,
            "question": "What brand is the bus?",
            "answers": ["volvo", "volvo", "Volvo"],
            "file_path": "coco-text/COCO_train2014_000000000036.jpg",
            "file_name": "COCO_train2014_000000000036.jpg",
            "set_name": "train",
            "dataset": "coco-text",
        },
        {
            "question_id": 3,
            "question": "No image named?",
            "answers": ["x"],
            "set_name": "train",
        },
        {
            "question_id": 2,
            "question": "What does the sign say?",
            "answers": ["stop"],
            "file_name": "n0001.JPEG",  # no file_path: <dataset>/<file_name>
            "set_name": "train",
            "dataset": "imageNet",
        },
    ]
    write_json(folder / "train_task_3.json", {"dataset_name": "ST-VQA", "data": data})
    write_image(folder / "train_imgs" / "coco-text" / "COCO_train2014_000000000036.jpg")
    write_image(folder / "train_imgs" / "imageNet" / "n0001.JPEG", colour=(1, 2, 3))

    outcome = importer_for("st-vqa", "st-vqa", "train", "stvqa", max_rejected=1).run()

    assert (outcome.created, outcome.rejected) == (2, 1)
    assert outcome.first_rejected[0]["message"] == "missing field(s): file_path (or dataset and file_name)"
    bus = _samples("st-vqa", "train")["1"]
    assert (bus.inputs, bus.outputs, bus.meta["dataset"]) == ("What brand is the bus?", "volvo", "coco-text")
    assert bus.meta["file_path"] == "coco-text/COCO_train2014_000000000036.jpg"
    sign = _samples("st-vqa", "train")["2"]
    assert (sign.outputs, sign.meta["dataset"]) == ("stop", "imageNet")
    assert sign.meta["file_path"] == "imageNet/n0001.JPEG"


def test_text_vqa_joins_rosetta_ocr_tokens_into_meta_and_the_paraphrase_prompt(import_root, tasks):
    folder = import_root / "textvqa"
    answers = ["nokia"] * 6 + ["nokia phone"] * 4
    data = [
        {
            "question": "what brand is the phone?",
            "image_id": "0054c91397f2fe05",
            "image_classes": ["Mobile phone"],
            "answers": answers,
            "question_tokens": ["what", "brand"],
            "question_id": 34602,
            "set_name": "train",
        },
        {"question": "what is written?", "image_id": "00aa", "answers": ["stop"] * 10, "question_id": 34603},
        {"question": "no such image?", "image_id": "ffff", "answers": ["x"] * 10, "question_id": 34604},
    ]
    write_json(folder / "TextVQA_0.5.1_train.json", {"dataset_type": "train", "dataset_version": "0.5.1", "data": data})
    ocr = [
        {"image_id": "00aa", "ocr_tokens": ["STOP"], "ocr_info": []},
        {"image_id": "0054c91397f2fe05", "ocr_tokens": ["NOKIA", "Connecting", "People"], "ocr_info": []},
    ]
    write_json(folder / "TextVQA_Rosetta_OCR_v0.2_train.json", {"dataset_name": "textvqa", "data": ocr})
    write_image(folder / "train_images" / "0054c91397f2fe05.jpg")
    write_image(folder / "train_images" / "00aa.jpg", colour=(200, 0, 0))

    outcome = importer_for("text-vqa", "text-vqa", "train", "textvqa", max_rejected=1).run()

    assert (outcome.created, outcome.rejected) == (2, 1)
    assert outcome.first_rejected[0]["message"] == "no image file for image_id ffff"
    assert (outcome.first_rejected[0]["file"], outcome.first_rejected[0]["line"]) == ("TextVQA_0.5.1_train.json", 3)
    phone = _samples("text-vqa", "train")["34602"]
    assert (phone.outputs, phone.paraphrase_state) == ("nokia", ParaphraseState.PENDING)
    assert phone.meta["ocr_tokens"] == ["NOKIA", "Connecting", "People"]
    assert phone.meta["image_classes"] == ["Mobile phone"]
    assert _samples("text-vqa", "train")["34603"].meta["ocr_tokens"] == ["STOP"]
    # The paraphrase stage reads the tokens from meta into the request.
    context = context_of(phone.meta)
    assert context == {"ocr_tokens": ["NOKIA", "Connecting", "People"]}
    assert '"NOKIA"' in build_messages(phone.inputs, phone.outputs, context)[1]["content"]


def test_ocr_vqa_dataset_json_keyed_by_asin_one_sample_per_question_of_the_split(import_root, tasks):
    folder = import_root / "ocrvqa"
    dataset = {
        "1439179866": {
            "imageURL": "http://ecx.images-amazon.com/images/I/51Q.jpg",
            "questions": ["Who wrote this book?", "What is the title of this book?", "Is this a comics book?"],
            "answers": ["Jane Doe", "Deep Waters", "No"],
            "title": "Deep Waters",
            "authorName": "Jane Doe",
            "genre": "Mystery",
            "split": 1,
        },
        "0060000002": {
            "imageURL": "http://ecx.images-amazon.com/images/I/61xyz.jpg",
            "questions": ["Who wrote this book?"],
            "answers": ["A. Author"],
            "split": 2,
        },
        "0060000003": {"questions": ["Q1?", "Q2?"], "answers": ["only one"], "split": 1},
    }
    write_json(folder / "dataset.json", dataset)
    write_image(folder / "images" / "1439179866.jpg")
    write_image(folder / "images" / "61xyz.jpg", colour=(9, 9, 9))  # named after the URL
    write_image(folder / "images" / "0060000003.jpg", colour=(90, 9, 9))

    train = importer_for("ocr-vqa", "ocr-vqa", "train", "ocrvqa", max_rejected=1).run()
    val = importer_for("ocr-vqa", "ocr-vqa", "val", "ocrvqa").run()

    assert (train.created, train.rejected, val.created) == (3, 1, 1)
    assert train.first_rejected[0]["message"] == "questions and answers must be lists of the same length"
    assert train.first_rejected[0]["unit"] == "entry"
    sample = _samples("ocr-vqa", "train")["1439179866-1"]
    assert (sample.inputs, sample.outputs) == ("What is the title of this book?", "Deep Waters")
    assert (sample.meta["asin"], sample.meta["genre"], sample.meta["question_index"]) == ("1439179866", "Mystery", 1)
    assert list(_samples("ocr-vqa", "val")) == ["0060000002-0"]


def test_visual_mrc_one_sample_per_qa_pair_with_ocr_words(import_root, tasks):
    folder = import_root / "vmrc"
    pages = [
        {
            "id": "page-1",
            "license": "cc-by",
            "url": "https://example.org/a",
            "screenshot_filename": "screenshot/a_full.png",
            "image_filename": "screenshot/a.png",
            "bounding_boxes": [
                {
                    "structure": "heading",
                    "shape": {"x": 0, "y": 0, "width": 10, "height": 5},
                    "ocr_info": [{"word": "Tide", "bbox": {}}, {"word": "tables", "bbox": {}}],
                },
                {"structure": "image", "shape": {}, "ocr_info": []},
            ],
            "qa_data": [
                {
                    "question": {"text": "What is shown?"},
                    "answer": {"text": "Tide tables for the bay.", "relevant": ["b1"]},
                },
                {"question": {"text": "Where?"}, "answer": {"text": ""}},
            ],
        }
    ]
    write_json(folder / "train.json", pages)
    write_image(folder / "images" / "screenshot" / "a.png")

    outcome = importer_for("visual-mrc", "visual-mrc", "train", "vmrc", max_rejected=1).run()

    assert (outcome.created, outcome.rejected) == (1, 1)
    assert outcome.first_rejected[0]["message"] == "qa_data 1: missing question.text or answer.text"
    assert outcome.first_rejected[0]["source_id"] == "page-1-1"
    sample = _samples("visual-mrc", "train")["page-1-0"]
    assert (sample.inputs, sample.outputs) == ("What is shown?", "Tide tables for the bay.")
    assert sample.paraphrase_state == ParaphraseState.NOT_NEEDED
    assert sample.meta["ocr_tokens"] == ["Tide", "tables"] and sample.meta["page_id"] == "page-1"
    assert sample.meta["relevant"] == ["b1"]


def test_text_vqa_ocr_tokens_reach_the_paraphrase_request(import_root, tasks, eager_jobs, settings):
    """Import → paraphrase job against the local OpenAI-compatible server: the request carries the tokens."""
    folder = import_root / "textvqa"
    data = [{"question": "what brand is it?", "image_id": "00aa", "answers": ["nokia"] * 10, "question_id": 7}]
    write_json(folder / "TextVQA_0.5.1_val.json", {"data": data})
    write_json(folder / "TextVQA_Rosetta_OCR_v0.2_val.json", {"data": [{"image_id": "00aa", "ocr_tokens": ["NOKIA"]}]})
    write_image(folder / "train_images" / "00aa.jpg")
    files = {"questions": "TextVQA_0.5.1_val.json", "ocr": "TextVQA_Rosetta_OCR_v0.2_val.json"}
    importer_for("text-vqa", "text-vqa", "val", "textvqa", files=files).run()

    with FakeLLM() as server:
        settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "test-key", server.base_url
        settings.PARAPHRASE_MODEL = "fake-model"
        settings.PARAPHRASE_REQUESTS_PER_MINUTE = settings.PARAPHRASE_TOKENS_PER_MINUTE = 0
        with eager_jobs():
            start_paraphrase([TaskSplit.objects.get(task__slug="text-vqa", split="val")], AdminFactory())
        [hit] = server.hits_for("what brand is it?")
    assert hit.data == {"question": "what brand is it?", "answer": "nokia", "ocr_tokens": ["NOKIA"]}
    assert Sample.objects.get(task__slug="text-vqa", split="val").paraphrase_state == ParaphraseState.ACCEPTED
