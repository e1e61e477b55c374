"""Classification tasks M3IT built on COCO files: coco-goi (objects), coco-text (text regions), coco-itm.

Region tasks draw the region as a red box on a copy of the image (the importer does the drawing) and
ask about "the red box", as M3IT did instead of giving coordinates in text.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from pipeline.imports.adapters.base import (
    IMAGE_SUFFIXES,
    Adapter,
    Box,
    Draft,
    FileSpec,
    ImageFile,
    ImportInputError,
    Location,
    OptionSpec,
    Rejected,
    Row,
    SourceFiles,
    Target,
    index_by_number,
    json_entries,
    json_items,
    keyed_index,
    lettered_answer,
    require,
)
from pipeline.imports.adapters.classification import lettered_options, option_seed
from pipeline.imports.adapters.common import as_int, first_value, value_of_another_key, with_options


def xywh_box(value: Any) -> Box:
    """COCO's `bbox` [x, y, width, height] as corners; ValueError for anything else or an empty box."""
    if not (isinstance(value, list) and len(value) == 4 and all(isinstance(v, int | float) for v in value)):
        raise ValueError(f"bbox must be [x, y, width, height], not {value!r}")
    x, y, w, h = (float(v) for v in value)
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise ValueError(f"bbox {value} is empty or negative")
    return (x, y, x + w, y + h)


class CocoObjectsAdapter(Adapter):
    """COCO object annotations (Lin et al., ECCV 2014; `instances_<subset>.json`: `images`, `annotations`
    with `id`, `image_id`, `category_id`, `bbox` [x, y, w, h], `iscrowd`, and `categories` with `id`, `name`).
    coco-goi: one sample per object; its box is drawn in red and the question asks what is in the red box,
    with lettered options (the gold category and seeded distractor categories); the output is "(X) name"."""

    name = "coco-goi"
    label = "COCO objects → what is in the red box (coco-goi)"
    description = (
        "instances_<subset>.json with the COCO images folder. One sample per object annotation (crowd regions "
        "skipped): its box drawn in red, lettered category options, output '(X) category'."
    )
    files = (
        FileSpec("instances", "json", "instances_train2017.json", "COCO instances_<subset>.json"),
        FileSpec("images", "folder", "train2017", "folder of COCO images, found by the image id in the file name"),
    )
    options = (
        OptionSpec("num_options", 4, "lettered options per question (gold + distractors)", "int"),
        OptionSpec("min_area", 0, "skip objects whose box is smaller than this many pixels", "int"),
        OptionSpec("question", "What is the object in the red box?", "the question before the options"),
    )

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        count = options["num_options"]
        if not 2 <= count <= 26:
            raise ImportInputError("num_options must be between 2 and 26")
        label, path = source.name("instances"), source.file("instances")
        names = {
            c["id"]: str(c["name"])
            for _n, c in json_items(path, "categories.item", label)
            if isinstance(c, dict) and "id" in c and c.get("name")
        }
        if len(names) < 2:
            raise ImportInputError(f"{label} needs at least two categories, found {len(names)}")
        all_names = sorted(set(names.values()))
        images = index_by_number(source.folder("images"), IMAGE_SUFFIXES)
        for number, ann in json_items(path, "annotations.item", label, source):
            where = Location(label, number, "annotation")
            source_id = str(ann.get("id", "")) if isinstance(ann, dict) else ""
            if problem := require(ann, ("id", "image_id", "category_id", "bbox")):
                yield Rejected(where, problem, source_id)
                continue
            if ann.get("iscrowd"):
                continue
            gold = names.get(ann["category_id"])
            relative = images.get(as_int(ann["image_id"]))
            try:
                box = xywh_box(ann["bbox"])
                if gold is None:
                    raise ValueError(f"unknown category_id {ann['category_id']}")
                if relative is None:
                    raise ValueError(f"no image file for image_id {ann['image_id']}")
            except ValueError as exc:
                yield Rejected(where, str(exc), source_id)
                continue
            if (box[2] - box[0]) * (box[3] - box[1]) < options["min_area"]:
                continue
            choices, gold_at = lettered_options(
                gold, all_names, count, option_seed(target.task, target.split, source_id)
            )
            yield Draft(
                source_id=source_id,
                media=[ImageFile(source.under("images", relative), boxes=(box,))],
                inputs=with_options(options["question"], choices),
                output=lettered_answer(choices, gold_at),
                meta={
                    "source_dataset": "coco",
                    "annotation_id": ann["id"],
                    "image_id": ann["image_id"],
                    "category_id": ann["category_id"],
                    "category": gold,
                    "bbox": ann["bbox"],
                    "options": choices,
                },
                where=where,
            )


# COCO-Text's annotation attributes and their values, in the order the options list them.
COCO_TEXT_ATTRIBUTES = {
    "legibility": ("legible", "illegible"),
    "class": ("machine printed", "handwritten", "others"),
    "language": ("english", "not english", "na"),
}
COCO_TEXT_QUESTIONS = {
    "legibility": "Is the text in the red box legible?",
    "class": "What kind of text is in the red box?",
    "language": "What language is the text in the red box?",
}


class CocoTextAdapter(Adapter):
    """COCO-Text v2 (Veit et al., 2016; `cocotext.v2.json`): `imgs` keyed by image id (`file_name`, `set`
    train/val) and `anns` keyed by annotation id (`image_id`, `bbox` [x, y, w, h], `class`, `legibility`,
    `language`, `utf8_string`), both read as streams. One sample per text region: the region drawn in red,
    lettered options for the chosen attribute, or (attribute "text") the legible string as the output."""

    name = "coco-text"
    label = "COCO-Text regions"
    description = (
        "cocotext.v2.json (imgs, anns) with the COCO 2014 images folder. One sample per text region of the split "
        "(imgs[...].set): the region drawn in red, options for legibility/class/language, or the text itself."
    )
    files = (
        FileSpec("annotations", "json", "cocotext.v2.json", "COCO-Text v2 annotations"),
        FileSpec("images", "folder", "train2014", "COCO train2014 images (COCO-Text is drawn from them)"),
    )
    options = (
        OptionSpec("attribute", "legibility", "legibility, class, language, or text (the legible string)"),
        OptionSpec("source_split", "", "COCO-Text set to read (train, val); empty: by target split"),
    )

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        attribute = options["attribute"]
        if attribute not in (*COCO_TEXT_ATTRIBUTES, "text"):
            raise ImportInputError("attribute must be legibility, class, language or text")
        wanted = options["source_split"] or target.split
        label, path = source.name("annotations"), source.file("annotations")
        files = index_by_number(source.folder("images"), IMAGE_SUFFIXES)
        image_sets = ((key, value.get("set")) for _n, key, value in json_entries(path, "imgs", label))
        with keyed_index(image_sets) as sets:
            for number, ann_id, ann in json_entries(path, "anns", label, source):
                where = Location(label, number, "annotation")
                if problem := require(ann, ("image_id", "bbox")):
                    yield Rejected(where, problem, ann_id)
                    continue
                if first_value(sets, ann["image_id"]) != wanted:
                    continue
                value = str(ann.get("utf8_string" if attribute == "text" else attribute) or "").strip()
                if attribute == "text" and (not value or ann.get("legibility") != "legible"):
                    continue  # illegible regions have no text to read
                relative = files.get(as_int(ann["image_id"]))
                try:
                    box = xywh_box(ann["bbox"])
                    if relative is None:
                        raise ValueError(f"no image file for image_id {ann['image_id']}")
                    if attribute != "text" and value not in COCO_TEXT_ATTRIBUTES[attribute]:
                        raise ValueError(
                            f"{attribute} {value!r} is not one of {', '.join(COCO_TEXT_ATTRIBUTES[attribute])}"
                        )
                except ValueError as exc:
                    yield Rejected(where, str(exc), ann_id)
                    continue
                if attribute == "text":
                    inputs, output = "What is the text in the red box?", value
                else:
                    choices = list(COCO_TEXT_ATTRIBUTES[attribute])
                    inputs = with_options(COCO_TEXT_QUESTIONS[attribute], choices)
                    output = lettered_answer(choices, choices.index(value))
                yield Draft(
                    source_id=ann_id,
                    media=[ImageFile(source.under("images", relative), boxes=(box,))],
                    inputs=inputs,
                    output=output,
                    meta={
                        "source_dataset": "coco-text",
                        "annotation_id": ann_id,
                        "image_id": ann["image_id"],
                        "bbox": ann["bbox"],
                        **{key: ann.get(key) for key in ("class", "legibility", "language", "utf8_string")},
                    },
                    where=where,
                )


class CocoMatchingAdapter(Adapter):
    """COCO image-text matching from the COCO captions file (`captions_<subset>.json`: `annotations` with
    `id`, `image_id`, `caption`). One sample per caption: with a seeded chance the caption is swapped for a
    caption of another image (a negative); the question asks whether it describes the image, output yes/no."""

    name = "coco-itm"
    label = "COCO image-text matching (captions + seeded negatives)"
    description = (
        "captions_<subset>.json with the COCO images folder. Each caption is kept (yes) or, with a seeded chance, "
        "replaced by a caption of another image (no)."
    )
    files = (
        FileSpec("captions", "json", "captions_train2017.json", "COCO captions_<subset>.json"),
        FileSpec("images", "folder", "train2017", "folder of COCO images, found by the image id in the file name"),
    )
    options = (
        OptionSpec("negative_percent", 50, "share of samples whose caption comes from another image", "int"),
        OptionSpec("question", "Does the text describe the image?", "the question after the caption"),
    )

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        percent = options["negative_percent"]
        if not 0 <= percent <= 100:
            raise ImportInputError("negative_percent must be between 0 and 100")
        label, path = source.name("captions"), source.file("captions")
        images = index_by_number(source.folder("images"), IMAGE_SUFFIXES)
        pairs = (
            (a["image_id"], str(a["caption"]).strip())
            for _n, a in json_items(path, "annotations.item", label)
            if isinstance(a, dict) and a.get("image_id") is not None and str(a.get("caption") or "").strip()
        )
        with keyed_index(pairs) as captions:
            for number, ann in json_items(path, "annotations.item", label, source):
                where = Location(label, number, "annotation")
                source_id = str(ann.get("id", "")) if isinstance(ann, dict) else ""
                if problem := require(ann, ("id", "image_id", "caption")):
                    yield Rejected(where, problem, source_id)
                    continue
                relative = images.get(as_int(ann["image_id"]))
                if relative is None:
                    yield Rejected(where, f"no image file for image_id {ann['image_id']}", source_id)
                    continue
                rng = random.Random(option_seed(target.task, target.split, f"itm|{source_id}"))
                caption, matched, negative_from = str(ann["caption"]).strip(), True, None
                if rng.random() * 100 < percent and (other := value_of_another_key(captions, ann["image_id"], rng)):
                    negative_from, caption = other
                    matched = False
                yield Draft(
                    source_id=source_id,
                    media=[ImageFile(source.under("images", relative))],
                    inputs=f"Text: {caption}\n{options['question']}",
                    output="yes" if matched else "no",
                    meta={
                        "source_dataset": "coco",
                        "caption_id": ann["id"],
                        "image_id": ann["image_id"],
                        "caption": caption,
                        "matched": matched,
                        "negative_from_image_id": as_int(negative_from) if negative_from else None,
                    },
                    where=where,
                )
