"""Question answering on text in images: DocVQA, ST-VQA, TextVQA, OCR-VQA and VisualMRC.

Each reads its dataset's own release files. Short answers are marked for paraphrasing (M3IT §3.2), and
OCR tokens, where the release has them, go into `meta.ocr_tokens`, which the paraphrase prompt uses as
context for scene-text questions (pipeline.paraphrase.prompt.context_fields).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from pipeline.imports.adapters.base import (
    OCR_META_MAX,
    Context,
    Draft,
    FileSpec,
    ImageFile,
    Location,
    RecordAdapter,
    Rejected,
    Row,
    RowProblem,
    SourceFiles,
    Target,
    json_items,
    keyed_index,
    paraphrase_option,
    text_list,
)
from pipeline.imports.adapters.vqa import most_common_answer


def short_answer_draft(
    where: Location,
    source_id: str,
    image: str,
    question: Any,
    answers: list[str],
    meta: dict[str, Any],
    context: Context,
) -> Draft:
    """A VQA-style draft: the most common answer as output, every answer in meta; paraphrased as the
    `paraphrase` option says."""
    return Draft(
        source_id=source_id,
        media=[ImageFile(image)],
        inputs=str(question).strip(),
        output=most_common_answer(answers),
        meta={**meta, "answers": answers},
        where=where,
        short_answer=context.options["paraphrase"],
    )


class DocVQAAdapter(RecordAdapter):
    """DocVQA (Mathew et al., WACV 2021; docvqa.org, Task 1 "Single Page Document VQA"): a split's
    `<split>_v1.0.json` holds `data`, a list of {questionId, question, question_types, image
    ("documents/<page>.png", relative to the split folder), docId, ucsf_document_id, ucsf_document_page_no,
    answers}. The optional `ocr_results/<ucsf_document_id>_<page_no>.json` files (Microsoft Read API
    output: recognitionResults → lines → words) give the page's OCR tokens."""

    name = "docvqa"
    label = "DocVQA"
    description = (
        "DocVQA's <split>_v1.0.json (data: questionId, question, image, answers…) and the split folder holding "
        "documents/. One sample per question; the first of the most common answers is the output, all answers "
        "in meta; the page's OCR words (ocr_results/) go into meta.ocr_tokens when the folder is there."
    )
    files = (
        FileSpec("questions", "json", "train_v1.0.json", "the split's <split>_v1.0.json"),
        FileSpec("images", "folder", ".", "the split folder the image paths (documents/…) are relative to"),
        FileSpec("ocr", "folder", "ocr_results", "optional folder of per-page OCR JSON files", required=False),
    )
    options = (paraphrase_option(True),)
    id_fields = ("questionId",)
    required = ("questionId", "question", "image", "answers")
    record_prefix = "data.item"

    def prepare(self, context: Context) -> None:
        source = context.source
        context.extra = {"ocr": source.folder("ocr") if source.has("ocr") else None, "last": (None, [])}

    def build(self, where: Location, record: dict, source_id: str, context: Context) -> Iterator[Row]:
        answers = text_list(record["answers"], "answers")
        meta = {
            "source_dataset": "docvqa",
            "question_id": record["questionId"],
            "doc_id": record.get("docId"),
            "ucsf_document_id": record.get("ucsf_document_id"),
            "ucsf_document_page_no": record.get("ucsf_document_page_no"),
            "question_types": record.get("question_types", []),
            "image": record["image"],
        }
        if context.extra["ocr"] is not None and record.get("ucsf_document_id"):
            page = f"{record['ucsf_document_id']}_{record.get('ucsf_document_page_no', '')}"
            meta["ocr_tokens"] = self._page_words(context.extra, page)
        image = context.media(str(record["image"]))
        yield short_answer_draft(where, source_id, image, record["question"], answers, meta, context)

    def _page_words(self, extra: dict, page: str) -> list[str]:
        """The OCR words of a page, read once for the questions on it (the release lists them together)."""
        if extra["last"][0] == page:
            return extra["last"][1]
        words = read_ocr_words(extra["ocr"] / f"{page}.json")
        extra["last"] = (page, words)
        return words


def read_ocr_words(path: Path) -> list[str]:
    """Words of a Microsoft Read API result (DocVQA's OCR files); [] when the file is absent or unreadable."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return []
    words: list[str] = []
    for result in data.get("recognitionResults", []) if isinstance(data, dict) else []:
        for line in result.get("lines", []):
            for word in line.get("words", []) or [{"text": line.get("text", "")}]:
                if str(word.get("text", "")).strip():
                    words.append(str(word["text"]).strip())
                if len(words) >= OCR_META_MAX:
                    return words
    return words


class STVQAAdapter(RecordAdapter):
    """ST-VQA (Biten et al., ICCV 2019; the RRC "Scene Text VQA" challenge): `train_task_<n>.json` holds
    `data`, a list of {question_id, question, answers, file_path ("coco-text/COCO_train2014_….jpg", relative
    to the images folder, i.e. <dataset>/<file_name>), file_name, set_name, dataset, image_width,
    image_height}. Test files have no answers, so their rows are rejected."""

    name = "st-vqa"
    label = "ST-VQA"
    description = (
        "ST-VQA's train_task_<n>.json (data: question_id, question, answers, file_path…) and the folder the "
        "file paths are relative to. Most common answer as output, all answers in meta."
    )
    files = (
        FileSpec("questions", "json", "train_task_3.json", "train_task_1/2/3.json"),
        FileSpec("images", "folder", "train_imgs", "the unpacked train_imgs folder (coco-text/, imageNet/, …)"),
    )
    options = (paraphrase_option(True),)
    id_fields = ("question_id",)
    required = ("question_id", "question", "answers")
    record_prefix = "data.item"

    def build(self, where: Location, record: dict, source_id: str, context: Context) -> Iterator[Row]:
        relative = record.get("file_path") or "/".join(str(record.get(k) or "") for k in ("dataset", "file_name"))
        if relative.startswith("/") or relative.endswith("/"):
            raise RowProblem("missing field(s): file_path (or dataset and file_name)")
        meta = {
            "source_dataset": "st-vqa",
            "question_id": record["question_id"],
            "file_path": relative,
            "set_name": record.get("set_name"),
            "dataset": record.get("dataset"),
        }
        image = context.media(str(relative))
        answers = text_list(record["answers"], "answers")
        yield short_answer_draft(where, source_id, image, record["question"], answers, meta, context)


class TextVQAAdapter(RecordAdapter):
    """TextVQA (Singh et al., CVPR 2019; textvqa.org, v0.5.1): `TextVQA_0.5.1_<split>.json` holds `data`, a
    list of {question_id, question, image_id (hex string, `<image_id>.jpg` in train_images/), answers (ten),
    image_classes, flickr_original_url, set_name…}. The Rosetta OCR file `TextVQA_Rosetta_OCR_v0.2_<split>.json`
    ({data: [{image_id, ocr_tokens, ocr_info}]}) is joined by image_id; its tokens go into meta.ocr_tokens and
    so into the paraphrase prompt, as the paper did for scene-text questions. Test questions have no answers
    and are rejected."""

    name = "text-vqa"
    label = "TextVQA"
    description = (
        "TextVQA's TextVQA_0.5.1_<split>.json, the images folder (<image_id>.jpg) and optionally the Rosetta OCR "
        "file, joined by image_id: OCR tokens go into meta.ocr_tokens (paraphrase prompt context). Most common "
        "of the ten answers as output."
    )
    files = (
        FileSpec("questions", "json", "TextVQA_0.5.1_train.json", "TextVQA_0.5.1_<split>.json"),
        FileSpec("images", "folder", "train_images", "folder of <image_id>.jpg"),
        FileSpec(
            "ocr",
            "json",
            "TextVQA_Rosetta_OCR_v0.2_train.json",
            "optional Rosetta OCR file of the split (ocr_tokens per image_id)",
            required=False,
        ),
    )
    options = (paraphrase_option(True),)
    id_fields = ("question_id",)
    required = ("question_id", "question", "image_id", "answers")
    record_prefix = "data.item"
    media_lookup = "stem"

    @contextlib.contextmanager
    def context(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Context]:
        context = self.make_context(source, options, target)
        if not source.has("ocr"):
            yield context
            return
        label = source.name("ocr")
        pairs = (
            (item["image_id"], [str(t) for t in item.get("ocr_tokens") or []][:OCR_META_MAX])
            for _number, item in json_items(source.file("ocr"), "data.item", label)
            if isinstance(item, dict) and item.get("image_id") is not None
        )
        with keyed_index(pairs) as ocr:
            context.extra["ocr"] = ocr
            yield context

    def build(self, where: Location, record: dict, source_id: str, context: Context) -> Iterator[Row]:
        ocr = context.extra.get("ocr")
        image = context.find(record["image_id"], label="image_id")
        answers = text_list(record["answers"], "answers")
        tokens = record.get("ocr_tokens")
        if tokens is None and ocr is not None:
            found = ocr.get(record["image_id"], limit=1)
            tokens = found[0] if found else None
        meta = {
            "source_dataset": "text-vqa",
            "question_id": record["question_id"],
            "image_id": record["image_id"],
            "image_classes": record.get("image_classes", []),
            "set_name": record.get("set_name"),
            "flickr_original_url": record.get("flickr_original_url"),
        }
        if tokens is not None:
            meta["ocr_tokens"] = [str(t) for t in tokens][:OCR_META_MAX]
        yield short_answer_draft(where, source_id, image, record["question"], answers, meta, context)


OCRVQA_SPLITS = {"train": 1, "val": 2, "test": 3}


class OCRVQAAdapter(RecordAdapter):
    """OCR-VQA (Mishra et al., ICDAR 2019; ocr-vqa.github.io): `dataset.json` is one object keyed by the book's
        ASIN, each {imageURL, questions, answers (parallel lists), title, authorName, genre, split (1 train,
        2 val, 3 test)}; `loadDataset.py` saves the covers as `images/<ASIN><ext>` (covers named by the URL's
    file name are found too). One sample per question of the
        target split."""

    name = "ocr-vqa"
    label = "OCR-VQA"
    description = (
        "OCR-VQA's dataset.json (keyed by ASIN: questions, answers, title, authorName, genre, split 1/2/3) and "
        "the covers folder (<ASIN>.jpg). One sample per question of the target split; book fields in meta."
    )
    files = (
        FileSpec("dataset", "json", "dataset.json", "OCR-VQA's dataset.json"),
        FileSpec("images", "folder", "images", "folder of the downloaded covers, named by ASIN"),
    )
    options = (paraphrase_option(True),)
    id_fields = ("_asin",)
    required = ("questions", "answers", "split")
    record_role, record_layout, key_field = "dataset", "keyed", "_asin"
    media_lookup = "stem"

    def build(self, where: Location, record: dict, source_id: str, context: Context) -> Iterator[Row]:
        if str(record["split"]) != str(OCRVQA_SPLITS[context.target.split]):
            return
        questions, answers = record["questions"], record["answers"]
        if not isinstance(questions, list) or not isinstance(answers, list) or len(questions) != len(answers):
            raise RowProblem("questions and answers must be lists of the same length")
        # loadDataset.py saves <ASIN><ext>; copies downloaded by URL keep the URL's file name.
        url_stem = os.path.splitext(str(record.get("imageURL") or "").rsplit("/", 1)[-1])[0]
        image = context.find(source_id, *([url_stem] if url_stem else []), label="ASIN")
        for index, (question, answer) in enumerate(zip(questions, answers, strict=True)):
            item_id = f"{source_id}-{index}"
            if not str(question).strip() or not str(answer).strip():
                yield Rejected(where, f"question {index} or its answer is empty", item_id)
                continue
            yield short_answer_draft(
                where,
                item_id,
                image,
                question,
                [str(answer).strip()],
                {
                    "source_dataset": "ocr-vqa",
                    "asin": source_id,
                    "question_index": index,
                    "title": record.get("title"),
                    "author": record.get("authorName"),
                    "genre": record.get("genre"),
                    "image_url": record.get("imageURL"),
                },
                context,
            )


class VisualMRCAdapter(RecordAdapter):
    """VisualMRC (Tanaka et al., AAAI 2021; github.com/nttmdlab-nlp/VisualMRC, whose create_dataset.sh writes
    train.json, val.json, test.json): a JSON list of web pages, each {id, license, url, screenshot_filename,
    image_filename, bounding_boxes: [{id, structure, shape, ocr_info: [{word, confidence, bbox}]}],
    qa_data: [{question: {text}, answer: {text, relevant}}]}. One sample per QA pair ("<page id>-<n>"); the
    answers are abstractive sentences (not paraphrased); the page's OCR words go into meta.ocr_tokens."""

    name = "visual-mrc"
    label = "VisualMRC"
    description = (
        "VisualMRC's JSON list of pages (image_filename, bounding_boxes with ocr_info words, qa_data with "
        "question.text and answer.text) and the screenshots folder. One sample per QA pair."
    )
    files = (
        FileSpec("pages", "json", "train.json", "train.json, val.json or test.json (a JSON list of pages)"),
        FileSpec("images", "folder", "images", "folder the image_filename paths are relative to"),
    )
    options = (paraphrase_option(False),)
    id_fields = ("id",)
    required = ("image_filename", "qa_data")
    record_role = "pages"

    def build(self, where: Location, record: dict, source_id: str, context: Context) -> Iterator[Row]:
        if not isinstance(record["qa_data"], list):
            raise RowProblem("qa_data must be a list")
        page_id = source_id or str(record["image_filename"])
        image = context.media(str(record["image_filename"]))
        words = [
            str(info.get("word", "")).strip()
            for box in record.get("bounding_boxes") or []
            if isinstance(box, dict)
            for info in box.get("ocr_info") or []
            if isinstance(info, dict) and str(info.get("word", "")).strip()
        ]
        for index, qa in enumerate(record["qa_data"]):
            qa = qa if isinstance(qa, dict) else {}
            item_id = str(qa.get("id") or f"{page_id}-{index}")
            answer_block = qa.get("answer") if isinstance(qa.get("answer"), dict) else {}
            question = (qa.get("question") or {}).get("text", "") if isinstance(qa.get("question"), dict) else ""
            answer = (qa.get("answer") or {}).get("text", "") if isinstance(qa.get("answer"), dict) else ""
            if not str(question).strip() or not str(answer).strip():
                yield Rejected(where, f"qa_data {index}: missing question.text or answer.text", item_id)
                continue
            yield Draft(
                source_id=item_id,
                media=[ImageFile(image)],
                inputs=str(question).strip(),
                output=str(answer).strip(),
                meta={
                    "source_dataset": "visual-mrc",
                    "page_id": record.get("id"),
                    "qa_id": qa.get("id"),
                    "image_filename": record["image_filename"],
                    "screenshot_filename": record.get("screenshot_filename"),
                    "url": record.get("url"),
                    "relevant": answer_block.get("relevant", []),
                    "ocr_tokens": words[:OCR_META_MAX],
                },
                where=where,
                short_answer=context.options["paraphrase"],
            )
