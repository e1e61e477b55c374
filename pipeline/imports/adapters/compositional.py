"""Compositional VQA on real and synthetic scenes: GQA, CLEVR and the NMN Shapes dataset."""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
from PIL import Image as PILImage

from pipeline.imports.adapters.base import (
    Adapter,
    Context,
    Draft,
    FileSpec,
    ImageData,
    ImageFile,
    ImportInputError,
    Location,
    OptionSpec,
    RecordAdapter,
    Rejected,
    Row,
    RowProblem,
    SourceFiles,
    Target,
    paraphrase_option,
)


class GQAAdapter(RecordAdapter):
    """GQA (Hudson & Manning, CVPR 2019; cs.stanford.edu/people/dorarad/gqa): `<split>_balanced_questions.json`
    is one object keyed by question id, each {imageId, question, answer, fullAnswer, isBalanced, groups,
    entailed, equivalent, types, annotations, semantic, semanticStr}; images are `images/<imageId>.jpg`.
    The output is the full-sentence answer (`fullAnswer`, the short answer kept as the original output), or
    with `answer=short` the short answer, marked for paraphrasing. Streamed with ijson: the train file is
    gigabytes."""

    name = "gqa"
    label = "GQA"
    description = (
        "GQA's <split>_balanced_questions.json (keyed by question id: imageId, question, answer, fullAnswer…) and "
        "the images folder (<imageId>.jpg). Output: fullAnswer (short answer kept as the original), or the short "
        "answer to paraphrase with answer=short."
    )
    files = (
        FileSpec("questions", "json", "train_balanced_questions.json", "<split>_balanced_questions.json"),
        FileSpec("images", "folder", "images", "folder of <imageId>.jpg"),
    )
    options = (OptionSpec("answer", "full", '"full" (fullAnswer sentence) or "short" (answer, paraphrased later)'),)
    id_fields = ("_question_id",)
    required = ("imageId", "question", "answer")
    record_layout, key_field = "keyed", "_question_id"
    media_lookup = "stem"

    def prepare(self, context: Context) -> None:
        if context.options["answer"] not in ("full", "short"):
            raise ImportInputError(f'answer must be "full" or "short", not {context.options["answer"]!r}')

    def build(self, where: Location, record: dict, source_id: str, context: Context) -> Iterator[Row]:
        mode = context.options["answer"]
        short = str(record["answer"]).strip()
        full = str(record.get("fullAnswer") or "").strip()
        if mode == "full" and not full:
            raise RowProblem("missing field(s): fullAnswer (use answer=short to import the short answers)")
        yield Draft(
            source_id=source_id,
            media=[ImageFile(context.find(record["imageId"], label="imageId"))],
            inputs=str(record["question"]).strip(),
            output=full if mode == "full" else short,
            meta={
                "source_dataset": "gqa",
                "question_id": source_id,
                "image_id": record["imageId"],
                "answer": short,
                "full_answer": full,
                "types": record.get("types", {}),
                "semantic_str": record.get("semanticStr"),
                "is_balanced": record.get("isBalanced"),
            },
            where=where,
            short_answer=mode == "short",
            original_output=short if mode == "full" else None,
        )


class CLEVRAdapter(RecordAdapter):
    """CLEVR v1.0 (Johnson et al., CVPR 2017): `questions/CLEVR_<split>_questions.json` holds {info, questions:
    [{split, image_index, image_filename, question_index, question, answer, program, question_family_index}]};
    images are `images/<split>/<image_filename>`. Answers are single words ("yes", "2", "cube"); M3IT kept
    them as they are (its later "clevr-rephrased" release paraphrased them), so paraphrasing is off by default."""

    name = "clevr"
    label = "CLEVR"
    description = (
        "CLEVR's questions/CLEVR_<split>_questions.json and the images folder (images/<split>/CLEVR_<split>_…png). "
        "One sample per question; the one-word answer is the output."
    )
    files = (
        FileSpec("questions", "json", "questions/CLEVR_train_questions.json", "CLEVR_<split>_questions.json"),
        FileSpec("images", "folder", "images", "the images folder (with train/, val/, test/ inside) or one split's"),
    )
    options = (paraphrase_option(False),)
    id_fields = ("question_index",)
    required = ("question_index", "question", "answer", "image_filename")
    record_prefix = "questions.item"

    def prepare(self, context: Context) -> None:
        folder = context.source.folder("images")
        context.extra["split_folders"] = {entry.name for entry in os.scandir(folder) if entry.is_dir()}

    def build(self, where: Location, record: dict, source_id: str, context: Context) -> Iterator[Row]:
        split = str(record.get("split", ""))
        filename = str(record["image_filename"])
        image = context.media(f"{split}/{filename}" if split in context.extra["split_folders"] else filename)
        yield Draft(
            source_id=source_id,
            media=[ImageFile(image)],
            inputs=str(record["question"]).strip(),
            output=str(record["answer"]).strip(),
            meta={
                "source_dataset": "clevr",
                "question_index": record["question_index"],
                "image_index": record.get("image_index"),
                "image_filename": filename,
                "question_family_index": record.get("question_family_index"),
                "split": split,
            },
            where=where,
            short_answer=context.options["paraphrase"],
        )


def array_png(pixels: np.ndarray) -> bytes:
    """An HxWx3 array (floats in 0..1 or bytes) as PNG bytes."""
    array = np.asarray(pixels)
    if array.ndim != 3 or array.shape[2] != 3:
        raise RowProblem(f"image array has shape {array.shape}, not height x width x 3")
    if array.dtype.kind == "f":
        array = np.clip(array * 255.0 if array.max() <= 1.0 else array, 0, 255)
    out = io.BytesIO()
    PILImage.fromarray(array.astype(np.uint8), "RGB").save(out, format="PNG")
    return out.getvalue()


SHAPES_ANSWERS = {"true": "yes", "false": "no", "yes": "yes", "no": "no"}


class ShapesAdapter(Adapter):
    """The SHAPES dataset of Neural Module Networks (Andreas et al., CVPR 2016; github.com/jacobandreas/nmn2):
    per split `<split>.query_str.txt` (one question per line), `<split>.output` (true/false per line) and
    `<split>.input.npy` (the N 30x30x3 images, read memory-mapped, one at a time). M3IT's split file is
    `train.large`. The answer becomes yes/no; each image is stored as a PNG."""

    name = "shapes"
    label = "Shapes (NMN)"
    description = (
        "SHAPES' <split>.query_str.txt, <split>.output and <split>.input.npy (e.g. train.large.*): line i of the "
        "two text files and image i of the array make one sample; true/false becomes yes/no."
    )
    files = (
        FileSpec("questions", "txt", "train.large.query_str.txt", "one question per line"),
        FileSpec("answers", "txt", "train.large.output", "true/false per line"),
        FileSpec("images", "npy", "train.large.input.npy", "the images as an Nx30x30x3 array"),
    )
    options = (paraphrase_option(False),)

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        q_label, a_label, i_label = (source.name(role) for role in ("questions", "answers", "images"))
        try:
            pixels = np.load(source.file("images"), mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ImportInputError(f"{i_label} is not a readable .npy array: {exc}") from exc
        if pixels.ndim != 4:
            raise ImportInputError(f"{i_label} holds an array of shape {pixels.shape}, not N x height x width x 3")
        stem = os.path.basename(q_label).split(".query")[0]
        with (
            source.file("questions").open(encoding="utf-8") as questions,
            source.file("answers").open(encoding="utf-8") as answers,
        ):
            source.track(questions.buffer, source.file("questions").stat().st_size)
            for number, (question, answer) in enumerate(itertools.zip_longest(questions, answers), start=1):
                where, source_id = Location(q_label, number), f"{stem}-{number}"
                if question is None or answer is None:
                    missing = f"no answer on line {number} of {a_label}" if answer is None else "no question"
                    yield Rejected(where, missing, source_id)
                    continue
                yield self._row(where, source_id, question, answer, pixels, options)

    def _row(
        self, where: Location, source_id: str, question: str, answer: str, pixels: np.ndarray, options: dict
    ) -> Row:
        answer_word = SHAPES_ANSWERS.get(answer.strip().lower())
        if not question.strip():
            return Rejected(where, "empty question", source_id)
        if answer_word is None:
            return Rejected(where, f"answer {answer.strip()!r} is not true or false", source_id)
        index = where.line - 1
        if index >= len(pixels):
            return Rejected(where, f"the image array has only {len(pixels)} images", source_id)
        try:
            png = array_png(pixels[index])
        except RowProblem as exc:
            return Rejected(where, str(exc), source_id)
        return Draft(
            source_id=source_id,
            media=[ImageData(png)],
            inputs=question.strip(),
            output=answer_word,
            meta={"source_dataset": "shapes", "index": index, "answer": answer.strip()},
            where=where,
            short_answer=options["paraphrase"],
        )
