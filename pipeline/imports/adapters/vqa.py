"""VQA v2 and OK-VQA (questions JSON + annotations JSON, COCO images), A-OKVQA (one JSON list) and FM-IQA
(Chinese questions on COCO images)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.imports.adapters.base import (
    IMAGE_SUFFIXES,
    Adapter,
    Context,
    Draft,
    FileSpec,
    ImageFile,
    ImportInputError,
    KeyedIndex,
    Location,
    OptionSpec,
    RecordAdapter,
    Rejected,
    Row,
    SourceFiles,
    Target,
    index_by_number,
    json_items,
    json_list_records,
    keyed_index,
    paraphrase_option,
    require,
)


def most_common_answer(answers: list[str], preferred: str | None = None) -> str:
    """The most frequent answer; a tie goes to `preferred` (VQA's multiple_choice_answer), else the first seen."""
    counts = Counter(answers)
    best = max(counts.values())
    tied = [answer for answer in counts if counts[answer] == best]
    if preferred in tied:
        return preferred
    return tied[0]


class CaptionIndex:
    """COCO captions by image id (a KeyedIndex of the captions file)."""

    def __init__(self, index: KeyedIndex) -> None:
        self.index = index

    def get(self, image_id: Any, limit: int = 5) -> list[str]:
        return self.index.get(image_id, limit)


@contextmanager
def caption_index(path: Path | None, label: str) -> Iterator[CaptionIndex | None]:
    """Index a COCO captions file (`captions_<subset>.json`: annotations of image_id + caption)."""
    if path is None:
        yield None
        return
    pairs = (
        (item["image_id"], str(item["caption"]).strip())
        for _number, item in json_items(path, "annotations.item", label)
        if isinstance(item, dict) and item.get("image_id") is not None and item.get("caption")
    )
    with keyed_index(pairs) as index:
        yield CaptionIndex(index)


def pair_by_question_id(
    questions: Iterator[tuple[int, Any]], annotations: Iterator[tuple[int, Any]], q_label: str, a_label: str
) -> Iterator[tuple[Location, Any, Any] | Rejected]:
    """Join the two streams on question_id. The published files share one order, so this holds only
    the rows that arrive out of step (little memory); leftovers are rejected at the end."""
    waiting_q: dict[Any, tuple[int, Any]] = {}
    waiting_a: dict[Any, tuple[int, Any]] = {}
    q_iter, a_iter = iter(questions), iter(annotations)
    while True:
        q_next = next(q_iter, None)
        a_next = next(a_iter, None)
        if q_next is None and a_next is None:
            break
        if q_next is not None:
            number, question = q_next
            qid = question.get("question_id") if isinstance(question, dict) else None
            if qid is None:
                yield Rejected(Location(q_label, number, "item"), "question without question_id")
            elif qid in waiting_a:
                _a_number, annotation = waiting_a.pop(qid)
                yield Location(q_label, number, "item"), question, annotation
            else:
                waiting_q[qid] = (number, question)
        if a_next is not None:
            number, annotation = a_next
            qid = annotation.get("question_id") if isinstance(annotation, dict) else None
            if qid is None:
                yield Rejected(Location(a_label, number, "item"), "annotation without question_id")
            elif qid in waiting_q:
                q_number, question = waiting_q.pop(qid)
                yield Location(q_label, q_number, "item"), question, annotation
            else:
                waiting_a[qid] = (number, annotation)
    for qid, (number, _question) in waiting_q.items():
        yield Rejected(Location(q_label, number, "item"), f"question {qid} has no annotation", str(qid))
    for qid, (number, _annotation) in waiting_a.items():
        yield Rejected(Location(a_label, number, "item"), f"annotation for question {qid} has no question", str(qid))


class VQAv2Adapter(Adapter):
    name = "vqa-v2"
    label = "VQA v2"
    description = (
        "VQA v2 questions and annotations files with the COCO images folder. The most common of the ten "
        "answers becomes the output (ties: multiple_choice_answer); all answers are kept in meta."
    )
    files = (
        FileSpec(
            "questions",
            "json",
            "questions.json",
            "v2_OpenEnded_mscoco_<subset>_questions.json",
            find="*_questions.json",
        ),
        FileSpec(
            "annotations", "json", "annotations.json", "v2_mscoco_<subset>_annotations.json", find="*_annotations.json"
        ),
        FileSpec("images", "folder", "images", "folder of COCO images, found by the image id in the file name"),
        FileSpec(
            "captions",
            "json",
            "captions.json",
            "optional COCO captions_<subset>.json: the image's captions go into meta for the paraphrase prompt",
            required=False,
        ),
    )
    source_dataset = "vqa-v2"

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        q_label, a_label = source.name("questions"), source.name("annotations")
        images = index_by_number(source.folder("images"), IMAGE_SUFFIXES)
        questions = json_items(source.file("questions"), "questions.item", q_label, source)
        annotations = json_items(source.file("annotations"), "annotations.item", a_label, source)
        captions_path = source.file("captions") if source.has("captions") else None
        with caption_index(captions_path, source.files.get("captions", "")) as captions:
            for paired in pair_by_question_id(questions, annotations, q_label, a_label):
                if isinstance(paired, Rejected):
                    yield paired
                    continue
                where, question, annotation = paired
                yield self._draft(where, question, annotation, images, source, captions)

    def _draft(
        self,
        where: Location,
        question: dict,
        annotation: dict,
        images: dict[int, str],
        source: SourceFiles,
        captions: CaptionIndex | None = None,
    ) -> Row:
        source_id = str(question["question_id"])
        if problem := require(question, ("image_id", "question")):
            return Rejected(where, problem, source_id)
        if problem := require(annotation, ("answers",)):
            return Rejected(where, f"annotation: {problem}", source_id)
        answers = [a.get("answer", "") for a in annotation["answers"] if isinstance(a, dict)]
        answers = [a for a in answers if isinstance(a, str) and a.strip()]
        if not answers:
            return Rejected(where, "annotation has no answers", source_id)
        image_path = images.get(_as_int(question["image_id"]))
        if image_path is None:
            return Rejected(where, f"no image file for image_id {question['image_id']}", source_id)
        meta = {
            "source_dataset": self.source_dataset,
            "question_id": question["question_id"],
            "image_id": question["image_id"],
            "answers": answers,
            "multiple_choice_answer": annotation.get("multiple_choice_answer"),
            "answer_type": annotation.get("answer_type"),
            "question_type": annotation.get("question_type"),
        }
        if captions is not None:
            meta["captions"] = captions.get(question["image_id"])
        return Draft(
            source_id=source_id,
            media=[ImageFile(source.under("images", image_path))],
            inputs=str(question["question"]).strip(),
            output=most_common_answer(answers, annotation.get("multiple_choice_answer")),
            meta=meta,
            where=where,
            short_answer=True,
        )


class OKVQAAdapter(VQAv2Adapter):
    name = "okvqa"
    label = "OK-VQA"
    description = (
        "OK-VQA questions and annotations files (the VQA v2 format) with the COCO images folder; "
        "most common answer as output, all answers in meta."
    )
    files = (
        FileSpec(
            "questions", "json", "questions.json", "OpenEnded_mscoco_<subset>_questions.json", find="*_questions.json"
        ),
        FileSpec(
            "annotations", "json", "annotations.json", "mscoco_<subset>_annotations.json", find="*_annotations.json"
        ),
        FileSpec("images", "folder", "images", "folder of COCO images, found by the image id in the file name"),
        VQAv2Adapter.files[3],
    )
    source_dataset = "okvqa"


LETTERS = "ABCDEFGHIJ"


class AOKVQAAdapter(Adapter):
    name = "a-okvqa"
    label = "A-OKVQA"
    description = (
        "A-OKVQA's JSON list (question, choices, correct_choice_idx, direct_answers, rationales) with the "
        "COCO 2017 images folder. Direct mode: the most common direct answer; choice mode: lettered options."
    )
    files = (
        FileSpec("questions", "json", "aokvqa_v1p0_train.json", "the A-OKVQA JSON list for one split"),
        FileSpec("images", "folder", "images", "folder of COCO 2017 images (000000xxxxxx.jpg)"),
    )
    options = (OptionSpec("answer_mode", "direct", '"direct" (short answer, paraphrased later) or "choice"'),)

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        mode = options["answer_mode"]
        if mode not in ("direct", "choice"):
            raise ImportInputError(f'answer_mode must be "direct" or "choice", not {mode!r}')
        label = source.name("questions")
        images = index_by_number(source.folder("images"), IMAGE_SUFFIXES)
        for number, record in json_items(source.file("questions"), "item", label, source):
            where = Location(label, number, "item")
            source_id = str(record.get("question_id", "")) if isinstance(record, dict) else ""
            needed = ["question_id", "image_id", "question", "choices"]
            needed += ["direct_answers"] if mode == "direct" else ["correct_choice_idx"]
            if problem := require(record, needed):
                yield Rejected(where, problem, source_id)
                continue
            image_path = images.get(_as_int(record["image_id"]))
            if image_path is None:
                yield Rejected(where, f"no image file for image_id {record['image_id']}", source_id)
                continue
            choices = [str(c) for c in record["choices"]]
            if mode == "direct":
                answers = [str(a) for a in record["direct_answers"] if str(a).strip()]
                if not answers:
                    yield Rejected(where, "no direct answers", source_id)
                    continue
                inputs, output = str(record["question"]).strip(), most_common_answer(answers)
            else:
                index = record["correct_choice_idx"]
                if not isinstance(index, int) or not 0 <= index < min(len(choices), len(LETTERS)):
                    yield Rejected(where, f"correct_choice_idx {index!r} is not an index into choices", source_id)
                    continue
                lettered = "\n".join(f"({LETTERS[i]}) {c}" for i, c in enumerate(choices[: len(LETTERS)]))
                inputs = f"{str(record['question']).strip()}\nOptions:\n{lettered}"
                output = f"({LETTERS[index]}) {choices[index]}"
            yield Draft(
                source_id=source_id,
                media=[ImageFile(source.under("images", image_path))],
                inputs=inputs,
                output=output,
                meta={
                    "source_dataset": "a-okvqa",
                    "question_id": record["question_id"],
                    "image_id": record["image_id"],
                    "choices": choices,
                    "correct_choice_idx": record.get("correct_choice_idx"),
                    "direct_answers": record.get("direct_answers", []),
                    "rationales": record.get("rationales", []),
                    "difficult_direct_answer": record.get("difficult_direct_answer"),
                    "split": record.get("split"),
                },
                where=where,
                short_answer=mode == "direct",
            )


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


FMIQA_PARTS = {"train": "train", "val": "val"}


class FMIQAAdapter(RecordAdapter):
    """FM-IQA, the Freestyle Multilingual Image Question Answering set (Gao et al., NeurIPS 2015,
    idl.baidu.com/FM-IQA.html): `FM-CH-QA.json` is {"train": [...], "val": [...]}, each item an MS COCO
    image id (a string, without leading zeros) with a Chinese `Question` and `Answer` (and English
    translations in some copies). The images are COCO train2014/val2014, found by the number in the file
    name. The answers are short Chinese phrases, marked for paraphrasing."""

    name = "fm-iqa"
    label = "FM-IQA (Chinese)"
    description = (
        "FM-IQA's FM-CH-QA.json ({train: [...], val: [...]} of image_id, Question, Answer) and the COCO images "
        "folder. The part read follows the target split (train, val) unless `part` names it."
    )
    files = (
        FileSpec("questions", "json", "FM-CH-QA.json", "the FM-CH-QA.json file"),
        FileSpec("images", "folder", "images", "folder of COCO train2014/val2014 images"),
    )
    options = (
        OptionSpec("part", "", 'the part of the file to read ("train" or "val"); empty: the target split'),
        paraphrase_option(True),
    )
    id_fields = ("question_id", "id")
    required = ("image_id", "Question", "Answer")

    def _part(self, options: dict[str, Any], target: Target) -> str:
        part = options["part"] or FMIQA_PARTS.get(target.split, "")
        if part not in FMIQA_PARTS.values():
            raise ImportInputError(f'FM-IQA has a "train" and a "val" part; set part for the {target.split} split')
        return part

    media_lookup = "number"

    def records(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[tuple[Location, Any]]:
        return json_list_records(source, "questions", f"{self._part(options, target)}.item")

    def build(self, where: Location, record: dict, source_id: str, context: Context) -> Iterator[Row]:
        part = self._part(context.options, context.target)
        source_id = source_id or f"{part}-{where.line}"
        extra = {k: v for k, v in record.items() if k not in ("Question", "Answer", "image_id")}
        yield Draft(
            source_id=source_id,
            media=[ImageFile(context.find(record["image_id"], label="image_id"))],
            inputs=str(record["Question"]).strip(),
            output=str(record["Answer"]).strip(),
            meta={"source_dataset": "fm-iqa", "image_id": record["image_id"], "part": part, **extra},
            where=where,
            short_answer=context.options["paraphrase"],
        )
