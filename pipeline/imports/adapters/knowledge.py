"""Knowledge-based VQA: ScienceQA (multiple choice with context) and ViQuAE (questions about named entities)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from functools import cache

from PIL import Image as PILImage

from pipeline.imports.adapters.base import (
    Context,
    Draft,
    FileSpec,
    ImageData,
    ImageFile,
    ImportInputError,
    Location,
    Media,
    OptionSpec,
    RecordAdapter,
    Row,
    RowProblem,
    lettered,
    lettered_answer,
    paraphrase_option,
    text_list,
)
from pipeline.imports.adapters.vqa import most_common_answer


@cache
def blank_png(size: int = 224) -> bytes:
    """A white square: the image of a question that has none (the sample schema needs one)."""
    out = io.BytesIO()
    PILImage.new("RGB", (size, size), (255, 255, 255)).save(out, format="PNG")
    return out.getvalue()


class ScienceQAAdapter(RecordAdapter):
    """ScienceQA (Lu et al., NeurIPS 2022; github.com/lupantech/ScienceQA): `problems.json` is one object keyed
    by problem id, each {question, choices, answer (index), hint, image ("image.png" or null), task, grade,
    subject, topic, category, skill, lecture, solution, split}; images are `images/<split>/<pid>/image.png`.
    The problems of the target split (train, val, test) become "Context: <hint>" + the question + lettered
    options, the output "(B) <choice>". M3IT's counts include the text-only problems; they get a white
    image (without_image=blank) or are left out (without_image=skip)."""

    name = "science-qa"
    label = "ScienceQA"
    description = (
        "ScienceQA's problems.json (keyed by pid: question, choices, answer, hint, image, lecture, solution, split) "
        "and the images folder (<split>/<pid>/image.png). Lettered options; the output is '(B) choice'."
    )
    files = (
        FileSpec("problems", "json", "problems.json", "ScienceQA's problems.json"),
        FileSpec("images", "folder", "images", "folder holding <split>/<pid>/image.png"),
    )
    options = (
        OptionSpec("science_split", "", 'the ScienceQA split to read ("minival"...); empty: the target split'),
        OptionSpec("without_image", "blank", 'problems with no image: "blank" (a white image) or "skip"'),
    )
    id_fields = ("_pid",)
    required = ("question", "choices", "answer")
    record_role, record_layout, key_field = "problems", "keyed", "_pid"

    def prepare(self, context: Context) -> None:
        without = context.options["without_image"]
        if without not in ("blank", "skip"):
            raise ImportInputError(f'without_image must be "blank" or "skip", not {without!r}')

    def build(self, where: Location, record: dict, source_id: str, context: Context) -> Iterator[Row]:
        split, options = context.options["science_split"] or context.target.split, context.options
        if str(record.get("split", "")) != split:
            return
        media: list[Media]
        if record.get("image"):
            media = [ImageFile(self._image(context, split, source_id, str(record["image"])))]
        elif options["without_image"] == "skip":
            return
        else:
            media = [ImageData(blank_png())]
        choices = text_list(record["choices"], "choices")
        hint = str(record.get("hint") or "").strip()
        question = f"Context: {hint}\n{str(record['question']).strip()}" if hint else str(record["question"]).strip()
        yield Draft(
            source_id=source_id,
            media=media,
            inputs=f"{question}\nOptions:\n{lettered(choices)}",
            output=lettered_answer(choices, record["answer"]),
            meta={
                "source_dataset": "science-qa",
                "pid": source_id,
                "choices": choices,
                "answer": record["answer"],
                "has_image": bool(record.get("image")),
                "lecture": record.get("lecture", ""),
                "solution": record.get("solution", ""),
                **{key: record.get(key) for key in ("task", "grade", "subject", "topic", "category", "skill")},
                "split": record.get("split"),
            },
            where=where,
        )

    def _image(self, context: Context, split: str, pid: str, name: str) -> str:
        """images/<split>/<pid>/<name> as released, or images/<pid>/<name> when unpacked without the split."""
        for relative in (f"{split}/{pid}/{name}", f"{pid}/{name}"):
            path = context.media(relative)
            if context.source.open_path(path).is_file():
                return path
        raise RowProblem(f"no image file {split}/{pid}/{name} in {context.source.name('images')}")


class ViQuAEAdapter(RecordAdapter):
    """ViQuAE (Lerner et al., SIGIR 2022; github.com/PaulLerner/ViQuAE, huggingface.co/datasets/
    PaulLerner/viquae_dataset): `train.jsonl`, `validation.jsonl`, `test.jsonl` in KILT's format, each line
    {id, input (the question), output: {original_answer, answer (aliases), provenance: [{wikipedia_id,
    title}]}, kilt_id, wikidata_id, image (file name in the images folder), url, original_question, meta}.
    The original answer is the output (short, paraphrased); the KILT and Wikipedia ids are kept in meta, as
    the M3IT paper's example record shows."""

    name = "viquae"
    label = "ViQuAE"
    description = (
        "ViQuAE's KILT-style JSONL (input, output.original_answer, provenance with wikipedia_id, kilt_id, "
        "wikidata_id, image) and the images folder. Short answer as output; KILT/Wikipedia ids in meta."
    )
    files = (
        FileSpec("questions", "jsonl", "train.jsonl", "train.jsonl, validation.jsonl or test.jsonl"),
        FileSpec("images", "folder", "images", "the unpacked viquae_images folder"),
    )
    options = (paraphrase_option(True),)
    id_fields = ("id",)
    required = ("id", "input", "image", "output")
    record_layout = "jsonl"

    def build(self, where: Location, record: dict, source_id: str, context: Context) -> Iterator[Row]:
        output = record["output"]
        # KILT proper has a list of outputs; ViQuAE's JSONL has one object.
        outputs = output if isinstance(output, list) else [output]
        outputs = [item for item in outputs if isinstance(item, dict)]
        if not outputs:
            raise RowProblem("output must be an object with original_answer")
        original = str(outputs[0].get("original_answer") or "").strip()
        aliases = [str(a) for item in outputs for a in (item.get("answer") or []) if str(a).strip()]
        if not original and not aliases:
            raise RowProblem("output has neither original_answer nor answer")
        provenance = [p for item in outputs for p in item.get("provenance") or [] if isinstance(p, dict)]
        wikipedia_ids = [str(p["wikipedia_id"]) for p in provenance if p.get("wikipedia_id") is not None]
        yield Draft(
            source_id=source_id,
            media=[ImageFile(context.media(str(record["image"])))],
            inputs=str(record["input"]).strip(),
            output=original or most_common_answer(aliases),
            meta={
                "source_dataset": "viquae",
                "id": record["id"],
                "kilt_id": record.get("kilt_id"),
                "wikidata_id": record.get("wikidata_id"),
                "wikipedia_id": wikipedia_ids[0] if wikipedia_ids else None,
                "wikipedia_ids": wikipedia_ids,
                "wikipedia_titles": [p.get("title") for p in provenance if p.get("title")],
                "answers": aliases,
                "image": record["image"],
                "url": record.get("url"),
                "original_question": record.get("original_question"),
            },
            where=where,
            short_answer=context.options["paraphrase"],
        )
