"""Generation tasks: VIST stories, Visual Dialog, Multi30k translation, MMChat (Chinese dialog with images)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import groupby, zip_longest
from typing import Any
from urllib.parse import urlparse

import orjson

from pipeline.imports.adapters.base import (
    IMAGE_SUFFIXES,
    Adapter,
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
    index_by_stem,
    json_items,
    keyed_index,
    require,
)
from pipeline.imports.adapters.common import as_int, first_value, text_lines


class VISTAdapter(Adapter):
    """VIST (Huang et al., NAACL 2016), story-in-sequence files `<split>.story-in-sequence.json`: `images`,
    `albums` and `annotations`, a list of one-element lists, one per sentence (`story_id`, `photo_flickr_id`,
    `worker_arranged_photo_order`, `text`, `original_text`, `album_id`); the five sentences of a story are
    consecutive. One sample per story: its five images in story order, the story as the output."""

    name = "vist"
    label = "VIST visual stories (five images per record)"
    description = (
        "<split>.story-in-sequence.json with the split's images folder (<photo_flickr_id>.jpg or .png). One "
        "sample per story: five images in the workers' order, the sentences joined as the output."
    )
    files = (
        FileSpec("stories", "json", "train.story-in-sequence.json", "<train|val|test>.story-in-sequence.json"),
        FileSpec("images", "folder", "images/train", "the split's photos, <photo_flickr_id>.<ext>"),
    )
    options = (
        OptionSpec("story_length", 5, "sentences (and images) a story must have", "int"),
        OptionSpec("text_field", "original_text", '"original_text" (as written) or "text" (tokenised, anonymised)'),
    )

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        length, field = options["story_length"], options["text_field"]
        if field not in ("original_text", "text") or length < 1:
            raise ImportInputError('text_field must be "original_text" or "text", story_length at least 1')
        label = source.name("stories")
        images = index_by_stem(source.folder("images"), IMAGE_SUFFIXES)
        items = json_items(source.file("stories"), "annotations.item", label, source)
        sentences = ((n, a[0] if isinstance(a, list) and a else a) for n, a in items)
        for story_id, group in groupby(sentences, key=lambda item: _story_id(item[1])):
            parts = list(group)
            where = Location(label, parts[0][0], "annotation")
            if not story_id:
                yield Rejected(where, "annotation without story_id")
                continue
            if len(parts) != length or any(require(a, ("photo_flickr_id", "text")) for _n, a in parts):
                yield Rejected(
                    where, f"story {story_id} has {len(parts)} complete sentences, expected {length}", story_id
                )
                continue
            ordered = sorted((a for _n, a in parts), key=lambda a: int(a.get("worker_arranged_photo_order", 0)))
            photos = [str(a["photo_flickr_id"]) for a in ordered]
            if missing := [p for p in photos if p not in images]:
                yield Rejected(where, f"story {story_id}: no image file for photo {', '.join(missing)}", story_id)
                continue
            yield Draft(
                source_id=story_id,
                media=[ImageFile(source.under("images", images[p])) for p in photos],
                inputs="",
                output=" ".join(str(a.get(field) or a["text"]).strip() for a in ordered),
                meta={
                    "source_dataset": "vist",
                    "story_id": story_id,
                    "album_id": ordered[0].get("album_id"),
                    "photo_flickr_ids": photos,
                },
                where=where,
            )


def _story_id(annotation: Any) -> str:
    return str(annotation.get("story_id") or "") if isinstance(annotation, dict) else ""


class VisualDialogAdapter(Adapter):
    """Visual Dialog v1.0 (Das et al., CVPR 2017; `visdial_1.0_<split>.json`): `data.questions` and
    `data.answers` are lists of strings, `data.dialogs` items have `image_id`, `caption` and `dialog`, rounds
    of `question`/`answer` indexes into those lists. The lists are indexed on disk, the dialogs streamed. The
    caption and the earlier rounds go into `inputs` as the dialog history; the round's answer is the output."""

    name = "visual-dialog"
    label = "Visual Dialog (dialog history in inputs)"
    description = (
        "visdial_1.0_<split>.json with the images folder (COCO train2014 or VisualDialog_val2018, found by image "
        "id). rounds=last: one sample per dialog (its last answered round); rounds=all: one per round."
    )
    files = (
        FileSpec("dialogs", "json", "visdial_1.0_train.json", "visdial_1.0_<train|val|test>.json"),
        FileSpec("images", "folder", "train2014", "the dialog images, found by the image id in the file name"),
    )
    options = (OptionSpec("rounds", "last", '"last" (one sample per dialog) or "all" (one per round)'),)

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        if options["rounds"] not in ("last", "all"):
            raise ImportInputError('rounds must be "last" or "all"')
        label, path = source.name("dialogs"), source.file("dialogs")
        images = index_by_number(source.folder("images"), IMAGE_SUFFIXES)
        strings = (
            (f"{kind[0]}{n - 1}", text)
            for kind in ("questions", "answers")
            for n, text in json_items(path, f"data.{kind}.item", label)
        )
        with keyed_index(strings) as texts:
            for number, dialog in json_items(path, "data.dialogs.item", label, source):
                where = Location(label, number, "dialog")
                source_id = str(dialog.get("image_id", "")) if isinstance(dialog, dict) else ""
                if problem := require(dialog, ("image_id", "dialog")):
                    yield Rejected(where, problem, source_id)
                    continue
                relative = images.get(as_int(dialog["image_id"]))
                if relative is None:
                    yield Rejected(where, f"no image file for image_id {dialog['image_id']}", source_id)
                    continue
                turns = [
                    (first_value(texts, f"q{r.get('question')}"), first_value(texts, f"a{r.get('answer')}"))
                    for r in dialog["dialog"]
                ]
                answered = [i for i, (q, a) in enumerate(turns) if q and a]
                if not answered:
                    yield Rejected(where, f"dialog of image {source_id} has no answered round", source_id)
                    continue
                for i in answered if options["rounds"] == "all" else answered[-1:]:
                    history = "\n".join(f"Q: {q}\nA: {a}" for q, a in turns[:i])
                    caption = str(dialog.get("caption", "")).strip()
                    context = f"Caption: {caption}" + (f"\nDialog history:\n{history}" if history else "")
                    yield Draft(
                        source_id=f"{source_id}-{i + 1}",
                        media=[ImageFile(source.under("images", relative))],
                        inputs=f"{context}\nQuestion: {turns[i][0]}",
                        output=str(turns[i][1]).strip(),
                        meta={
                            "source_dataset": "visdial",
                            "image_id": dialog["image_id"],
                            "round": i + 1,
                            "gt_index": dialog["dialog"][i].get("gt_index"),
                        },
                        where=where,
                    )


LANGUAGES = {"en": "English", "de": "German", "fr": "French", "cs": "Czech"}


class Multi30kAdapter(Adapter):
    """Multi30k (Elliott et al., 2016; github multi30k/dataset `data/task1`): line-aligned files, the image list
    `image_splits/<split>.txt` (Flickr30k file names) and the sentences `raw/<split>.<lang>` (plain or `.gz`).
    One sample per line: the source sentence as inputs, the target-language sentence as the output."""

    name = "multi30k"
    label = "Multi30k (image + source sentence → translation)"
    description = (
        "image_splits/<split>.txt and raw/<split>.<src> and raw/<split>.<tgt> (one sentence per line, .gz fine) "
        "with the Flickr30k images folder. Lines are read in step; a length mismatch is reported."
    )
    files = (
        FileSpec("image_list", "txt", "image_splits/train.txt", "image_splits/<train|val|test_2016_flickr>.txt"),
        FileSpec("source", "txt", "raw/train.en.gz", "raw/<split>.<source language>"),
        FileSpec("target", "txt", "raw/train.de.gz", "raw/<split>.<target language>"),
        FileSpec("images", "folder", "flickr30k-images", "the Flickr30k images"),
    )
    options = (
        OptionSpec("source_lang", "en", "language code of the source file (en, de, fr, cs)"),
        OptionSpec("target_lang", "de", "language code of the target file"),
    )

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        label = source.name("image_list")
        streams = [
            text_lines(source.file(role), source.name(role), source) for role in ("image_list", "source", "target")
        ]
        for line, (image, src, tgt) in enumerate(zip_longest(*streams, fillvalue=(0, None)), start=1):
            where = Location(label, line)
            name, src_text, tgt_text = image[1], src[1], tgt[1]
            if None in (name, src_text, tgt_text):
                short = [
                    n
                    for n, v in zip(("image_list", "source", "target"), (name, src_text, tgt_text), strict=True)
                    if v is None
                ]
                yield Rejected(where, f"{', '.join(source.name(r) for r in short)} ended before line {line}")
                continue
            if not (name.strip() and src_text.strip() and tgt_text.strip()):
                yield Rejected(where, "empty image name or sentence", f"{target.split}-{line}")
                continue
            yield Draft(
                source_id=f"{name.strip()}-{line}",
                media=[ImageFile(source.under("images", name.strip()))],
                inputs=src_text.strip(),
                output=tgt_text.strip(),
                meta={
                    "source_dataset": "multi30k",
                    "image": name.strip(),
                    "line": line,
                    "source_lang": options["source_lang"],
                    "target_lang": options["target_lang"],
                    "target_language": LANGUAGES.get(options["target_lang"], options["target_lang"]),
                },
                where=where,
            )


class MMChatAdapter(Adapter):
    """MMChat (Zheng et al., LREC 2022; github silverriver/MMChat, HF silver/mmchat "mmchat" config), three
    line-aligned files per split: `dialog_<split>.jsonl` (a JSON list of utterances per line),
    `weibo_<split>.jsonl` (the post's text, a JSON string) and `img_url_<split>.jsonl` (the post's image URLs
    separated by ";", plain text). Images are the crawled files named by the URL's last path segment. One
    sample per dialog: the images in order, the earlier utterances as inputs, the last one as the output."""

    name = "mmchat"
    label = "MMChat (Chinese dialog with images)"
    description = (
        "dialog_<split>.jsonl, img_url_<split>.jsonl and optional weibo_<split>.jsonl (line-aligned, split is "
        "train/dev/test) with the crawled images folder. Missing images are left out; a dialog with none is rejected."
    )
    files = (
        FileSpec("dialogs", "jsonl", "dialog_train.jsonl", "dialog_<train|dev|test>.jsonl"),
        FileSpec("image_urls", "txt", "img_url_train.jsonl", "img_url_<split>.jsonl: url;url;… per line"),
        FileSpec("images", "folder", "images", "the downloaded images, named as the URL's last segment"),
        FileSpec("posts", "jsonl", "weibo_train.jsonl", "optional weibo_<split>.jsonl (post text)", required=False),
    )
    options = (OptionSpec("max_images", 9, "images kept per dialog (MMChat posts have up to nine)", "int"),)

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        label = source.name("dialogs")
        images = {os.path.basename(p): p for p in index_by_stem(source.folder("images"), IMAGE_SUFFIXES).values()}
        roles = ["dialogs", "image_urls"] + (["posts"] if source.has("posts") else [])
        streams = [text_lines(source.file(role), source.name(role), source) for role in roles]
        for number, (dialog_line, url_line, *post_line) in enumerate(zip_longest(*streams), start=1):
            where = Location(label, number)
            source_id = f"{target.split}-{number}"
            if dialog_line is None:
                yield Rejected(where, f"{label} ended before line {number} of the other files")
                continue
            if not dialog_line[1].strip():
                continue
            try:
                dialog = orjson.loads(dialog_line[1])
            except orjson.JSONDecodeError as exc:
                yield Rejected(where, f"not valid JSON ({exc})", source_id)
                continue
            if not (isinstance(dialog, list) and len(dialog) >= 2 and all(isinstance(u, str) for u in dialog)):
                yield Rejected(where, "a dialog must be a JSON list of at least two utterances", source_id)
                continue
            if url_line is None:
                yield Rejected(where, f"{source.name('image_urls')} has no line {number}", source_id)
                continue
            found = [u.strip() for u in url_line[1].split(";") if u.strip()]
            names = [os.path.basename(urlparse(u).path) for u in found]
            present = [n for n in names if n in images][: options["max_images"]]
            if not present:
                yield Rejected(where, f"none of the dialog's {len(names)} images is in the images folder", source_id)
                continue
            post = _json_string(post_line[0][1]) if post_line and post_line[0] else None
            utterances = [u.strip() for u in dialog]
            yield Draft(
                source_id=source_id,
                media=[ImageFile(source.under("images", images[n])) for n in present],
                inputs="\n".join(utterances[:-1]),
                output=utterances[-1],
                meta={
                    "source_dataset": "mmchat",
                    "line": number,
                    "image_urls": found,
                    "images": present,
                    "weibo_content": post,
                },
                where=where,
            )


def _json_string(line: str) -> str | None:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, str) else None
