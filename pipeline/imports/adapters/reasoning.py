"""Visual reasoning: NLVR2 (a sentence about two images) and VCR (visual commonsense, colour-coded objects)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from pipeline.imports.adapters.base import (
    Box,
    Context,
    Draft,
    FileSpec,
    ImageFile,
    ImportInputError,
    Location,
    OptionSpec,
    RecordAdapter,
    Row,
    RowProblem,
    lettered,
    lettered_answer,
)
from pipeline.media.images import BOX_COLOURS

NLVR_LABELS = {"true": "yes", "false": "no"}


class NLVR2Adapter(RecordAdapter):
    """NLVR2 (Suhr, Zhou et al., ACL 2019; github.com/lil-lab/nlvr/tree/master/nlvr2): `train.json`, `dev.json`,
    `test1.json` hold one JSON object per line {identifier ("split-set_id-pair_id-sentence_id"), sentence,
    label ("True"/"False"), left_url, right_url, synset, query, writer, validation}. The left and right images
    are `<split-set_id-pair_id>-img0.png` and `-img1.png` (train images sit in numbered sub-folders). Each
    sample has the two images in that order, the sentence as input and yes/no as output."""

    name = "nlvr"
    label = "NLVR2"
    description = (
        "NLVR2's JSON-lines file (identifier, sentence, label True/False) and the images folder "
        "(<identifier without sentence id>-img0.png / -img1.png, sub-folders allowed). Two images per sample, "
        "left then right; the output is yes or no."
    )
    files = (
        FileSpec("records", "jsonl", "train.json", "train.json, dev.json or test1.json (one object per line)"),
        FileSpec("images", "folder", "images", "folder of the image pairs"),
    )
    id_fields = ("identifier",)
    required = ("identifier", "sentence", "label")
    record_role, record_layout = "records", "jsonl"
    media_lookup = "stem"

    def build(self, where: Location, record: dict, source_id: str, context: Context) -> Iterator[Row]:
        label = NLVR_LABELS.get(str(record["label"]).strip().lower())
        if label is None:
            raise RowProblem(f"label {record['label']!r} is neither True nor False")
        pair = source_id.rsplit("-", 1)[0]
        left = context.find(f"{pair}-img0", label="left image")
        right = context.find(f"{pair}-img1", label="right image")
        yield Draft(
            source_id=source_id,
            media=[ImageFile(left), ImageFile(right)],
            inputs=str(record["sentence"]).strip(),
            output=label,
            meta={
                "source_dataset": "nlvr2",
                "identifier": source_id,
                "label": record["label"],
                "left_url": record.get("left_url"),
                "right_url": record.get("right_url"),
                "synset": record.get("synset"),
                "query": record.get("query"),
            },
            where=where,
        )


PALETTE = tuple(BOX_COLOURS)
NO_SPACE_BEFORE = {".", ",", "?", "!", ";", ":", "'s", "'", "n't", "'re", "'ve", "'m", "'ll", "'d", ")"}


def _joined(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def vcr_text(tokens: Any, objects: list[str], colours: dict[int, str]) -> str:
    """A VCR token list as text: an object reference ([2] or [0, 3]) becomes "the person in the red box"."""
    if not isinstance(tokens, list):
        raise RowProblem("a question or choice is not a token list")
    words: list[str] = []
    for token in tokens:
        if isinstance(token, list):
            refs = [f"the {objects[i]} in the {colours[i]} box" for i in token if i in colours]
            if refs:
                words.append(_joined(refs))
            continue
        text = str(token)
        if words and (text in NO_SPACE_BEFORE or text.startswith("'")):
            words[-1] += text
        else:
            words.append(text)
    sentence = " ".join(words)
    return sentence[:1].upper() + sentence[1:]


def referenced(*token_lists: Any) -> list[int]:
    """Object indices in order of first mention."""
    seen: list[int] = []
    for tokens in token_lists:
        for token in tokens if isinstance(tokens, list) else []:
            if isinstance(token, list):
                seen.extend(i for i in token if isinstance(i, int) and i not in seen)
    return seen


class VCRAdapter(RecordAdapter):
    """VCR v1.0 (Zellers et al., CVPR 2019; visualcommonsense.com, the v1.0 readme and the r2c loader):
    `train.jsonl`/`val.jsonl`/`test.jsonl` lines hold {annot_id, img_fn, metadata_fn (relative to vcr1images/),
    objects (class per detection), question, answer_choices, rationale_choices (token lists in which a list of
    ints refers to detections), answer_label, rationale_label, movie, img_id, question_orig…}; the metadata JSON
    has `boxes` ([x1, y1, x2, y2, score] per detection), `names`, `width`, `height`. Every object a question or
    its choices refer to is drawn as a box in its own colour (red, blue, green, … in order of first mention, as
    M3IT's later VCR release did) and named in the text by that colour. mode=qa: pick the answer (Q→A);
    mode=qar: given the right answer, pick the rationale (QA→R). The public test file has no labels: its rows
    are rejected."""

    name = "vcr"
    label = "VCR"
    description = (
        "VCR's <split>.jsonl and the vcr1images folder (images + metadata JSON with boxes). Referenced objects are "
        "drawn in distinct colours and named by colour; lettered answer (mode=qa) or rationale (mode=qar) choices."
    )
    files = (
        FileSpec("annotations", "jsonl", "train.jsonl", "VCR's train.jsonl / val.jsonl"),
        FileSpec("images", "folder", "vcr1images", "the vcr1images folder (images and their .json metadata)"),
    )
    options = (OptionSpec("mode", "qa", '"qa" (question → answer) or "qar" (question + answer → rationale)'),)
    id_fields = ("annot_id",)
    required = ("annot_id", "img_fn", "metadata_fn", "objects", "question", "answer_choices")
    record_role, record_layout = "annotations", "jsonl"

    def prepare(self, context: Context) -> None:
        if context.options["mode"] not in ("qa", "qar"):
            raise ImportInputError(f'mode must be "qa" or "qar", not {context.options["mode"]!r}')

    def build(self, where: Location, record: dict, source_id: str, context: Context) -> Iterator[Row]:
        mode = context.options["mode"]
        if record.get("answer_label") is None or (mode == "qar" and record.get("rationale_label") is None):
            raise RowProblem("no answer_label/rationale_label (VCR's test annotations are unlabelled)")
        if not isinstance(record["objects"], list):
            raise RowProblem("objects must be a list of class names")
        objects = [str(name) for name in record["objects"]]
        answers = record["answer_choices"]
        question = record["question"]
        if mode == "qa":
            choices, label, context_tokens = answers, record["answer_label"], [question]
        else:
            gold = record["answer_label"]
            if not isinstance(answers, list) or not isinstance(gold, int) or not 0 <= gold < len(answers):
                raise RowProblem(f"answer_label {gold!r} is not an index into answer_choices")
            choices, label = record.get("rationale_choices") or [], record["rationale_label"]
            context_tokens = [question, answers[record["answer_label"]]]
        if not isinstance(choices, list) or not choices:
            raise RowProblem("no choices")
        order = referenced(*context_tokens, *choices)
        if len(order) > len(PALETTE):
            raise RowProblem(f"{len(order)} objects referenced; at most {len(PALETTE)} colours can tell them apart")
        if any(not 0 <= i < len(objects) for i in order):
            raise RowProblem(f"an object reference is outside the {len(objects)} objects")
        colours = {index: PALETTE[n] for n, index in enumerate(order)}
        boxes = self._boxes(context, str(record["metadata_fn"]), order)
        texts = [vcr_text(choice, objects, colours) for choice in choices]
        prompt = vcr_text(question, objects, colours)
        if mode == "qar":
            prompt = f"{prompt}\nAnswer: {vcr_text(context_tokens[1], objects, colours)}\nWhy?"
        yield Draft(
            source_id=source_id if mode == "qa" else f"{source_id}-rationale",
            media=[
                ImageFile(
                    context.media(str(record["img_fn"])),
                    boxes=boxes,
                    colours=tuple(colours[i] for i in order),
                )
            ],
            inputs=f"{prompt}\nOptions:\n{lettered(texts)}",
            output=lettered_answer(texts, label),
            meta={
                "source_dataset": "vcr",
                "annot_id": record["annot_id"],
                "img_id": record.get("img_id"),
                "img_fn": record["img_fn"],
                "movie": record.get("movie"),
                "mode": mode,
                "objects": objects,
                "box_colours": {str(i): colours[i] for i in order},
                "answer_label": record.get("answer_label"),
                "rationale_label": record.get("rationale_label"),
                "question_orig": record.get("question_orig"),
                "answer_orig": record.get("answer_orig"),
                "rationale_orig": record.get("rationale_orig"),
            },
            where=where,
        )

    def _boxes(self, context: Context, metadata_fn: str, order: list[int]) -> tuple[Box, ...]:
        """The boxes of the referenced detections, from the image's metadata JSON (score dropped)."""
        try:
            metadata = orjson.loads(context.source.open_path(context.media(metadata_fn)).read_bytes())
        except FileNotFoundError:
            raise RowProblem(f"metadata file {metadata_fn} does not exist") from None
        except (OSError, orjson.JSONDecodeError) as exc:
            raise RowProblem(f"metadata file {metadata_fn} is not readable JSON: {exc}") from None
        boxes = metadata.get("boxes") if isinstance(metadata, dict) else None
        if not isinstance(boxes, list):
            raise RowProblem(f"metadata file {metadata_fn} has no boxes")
        picked: list[Box] = []
        for index in order:
            if index >= len(boxes) or not isinstance(boxes[index], list) or len(boxes[index]) < 4:
                raise RowProblem(f"metadata file {metadata_fn} has no box for object {index}")
            x0, y0, x1, y1 = (float(v) for v in boxes[index][:4])
            picked.append((x0, y0, x1, y1))
        return tuple(picked)
