"""Captioning sources as published: TextCaps, Stanford image paragraphs, COCO-CN, Flickr8k-CN, MSR-VTT.

Each builds M3IT's captioning record: empty inputs, the caption (or paragraph) as the output, the
source ids in meta. Captions are not paraphrased (M3IT paraphrased only short answers).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

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
    VideoFile,
    index_by_number,
    index_by_stem,
    json_items,
    keyed_index,
    require,
)
from pipeline.imports.adapters.classification import option_seed
from pipeline.imports.adapters.common import FRAMES_OPTION, as_int, checked_frames, first_value, split_name, text_lines
from pipeline.imports.adapters.video import index_videos


class TextCapsAdapter(Adapter):
    """TextCaps (Sidorov et al., ECCV 2020), release `TextCaps_0.1_<split>.json`: `{"data": [...]}` with one
    item per caption (`image_id`, `caption_id`, `caption_str`, `reference_strs`, `image_classes`); images are
    the TextVQA/Open Images files `<image_id>.jpg`. The OCR tokens come from the Rosetta OCR file of TextVQA
    (`TextVQA_Rosetta_OCR_v0.2_<split>.json`, items with `image_id` and `ocr_tokens`), joined by image id
    into meta. The test file carries no captions; its items are rejected."""

    name = "textcaps"
    label = "TextCaps (captions + Rosetta OCR tokens)"
    description = (
        "TextCaps_0.1_<split>.json (one item per caption) with the images folder; optional Rosetta OCR file "
        "joined by image_id: its ocr_tokens go into meta. One sample per caption."
    )
    files = (
        FileSpec("captions", "json", "TextCaps_0.1_train.json", "TextCaps_0.1_<train|val>.json"),
        FileSpec("images", "folder", "train_images", "folder of <image_id>.jpg (train_images, shared by val)"),
        FileSpec(
            "ocr",
            "json",
            "TextVQA_Rosetta_OCR_v0.2_train.json",
            "optional TextVQA Rosetta OCR file (<train|val>): ocr_tokens per image_id",
            required=False,
        ),
    )

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        label = source.name("captions")
        images = index_by_stem(source.folder("images"), IMAGE_SUFFIXES)
        ocr_items = json_items(source.file("ocr"), "data.item", source.name("ocr")) if source.has("ocr") else ()
        pairs = ((item["image_id"], item.get("ocr_tokens", [])) for _n, item in ocr_items if _has_id(item))
        with keyed_index(pairs) as ocr:
            for number, item in json_items(source.file("captions"), "data.item", label, source):
                where = Location(label, number, "item")
                source_id = str(item.get("caption_id", "")) if isinstance(item, dict) else ""
                if problem := require(item, ("image_id", "caption_str")):
                    yield Rejected(where, f"{problem} (TextCaps test items carry no caption)", source_id)
                    continue
                source_id = source_id or f"{item['image_id']}-{number}"
                relative = images.get(str(item["image_id"]))
                if relative is None:
                    yield Rejected(where, f"no image file for image_id {item['image_id']}", source_id)
                    continue
                yield Draft(
                    source_id=source_id,
                    media=[ImageFile(source.under("images", relative))],
                    inputs="",
                    output=str(item["caption_str"]).strip(),
                    meta={
                        "source_dataset": "textcaps",
                        "image_id": item["image_id"],
                        "caption_id": item.get("caption_id"),
                        "image_classes": item.get("image_classes", []),
                        "reference_strs": item.get("reference_strs", []),
                        "ocr_tokens": first_value(ocr, item["image_id"], []),
                    },
                    where=where,
                )


def _has_id(item: Any) -> bool:
    return isinstance(item, dict) and item.get("image_id") not in (None, "")


class ImageParagraphAdapter(Adapter):
    """Stanford image paragraphs (Krause et al., CVPR 2017): `paragraphs_v1.json`, a list of
    `{"url", "image_id", "paragraph"}` over Visual Genome images, and the split lists `train_split.json`,
    `val_split.json`, `test_split.json` (JSON lists of image ids). One sample per image of the split; the
    paragraph is the output."""

    name = "image-paragraphs"
    label = "Stanford image paragraphs"
    description = (
        "paragraphs_v1.json (url, image_id, paragraph) with a split list (<split>_split.json: image ids) and the "
        "Visual Genome images folder (<image_id>.jpg, VG_100K and VG_100K_2 may be nested)."
    )
    files = (
        FileSpec("paragraphs", "json", "paragraphs_v1.json", "the paragraph file, a JSON list"),
        FileSpec("split_ids", "json", "train_split.json", "train_split.json, val_split.json or test_split.json"),
        FileSpec("images", "folder", "images", "Visual Genome images, named <image_id>.jpg"),
    )

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        label = source.name("paragraphs")
        wanted = {as_int(i) for _n, i in json_items(source.file("split_ids"), "item", source.name("split_ids"))}
        images = index_by_number(source.folder("images"), IMAGE_SUFFIXES)
        for number, item in json_items(source.file("paragraphs"), "item", label, source):
            where = Location(label, number, "item")
            source_id = str(item.get("image_id", "")) if isinstance(item, dict) else ""
            if problem := require(item, ("image_id", "paragraph")):
                yield Rejected(where, problem, source_id)
                continue
            image_id = as_int(item["image_id"])
            if image_id not in wanted:
                continue
            relative = images.get(image_id)
            if relative is None:
                yield Rejected(where, f"no image file for image_id {item['image_id']}", source_id)
                continue
            yield Draft(
                source_id=source_id,
                media=[ImageFile(source.under("images", relative))],
                inputs="",
                output=" ".join(str(item["paragraph"]).split()),
                meta={"source_dataset": "stanford-paragraphs", "image_id": item["image_id"], "url": item.get("url")},
                where=where,
            )


CAPTION_LINE = re.compile(r"^(?P<key>[^\s#]+#\S*)\s+(?P<caption>.+)$")


class ChineseCaptionsAdapter(Adapter):
    """COCO-CN (Li et al., TMM 2019; github li-xirong/coco-cn): `imageid.human-written-caption.txt`, one
    `<image id>#<n>\\t<caption>` per line (image ids like `COCO_val2014_000000290951`), and the split lists
    `coco-cn_<train|val|test>.txt` (one image id per line). One sample per caption of the split's images."""

    name = "coco-cn"
    label = "COCO-CN Chinese captions"
    description = (
        "A caption file with '<image>#<n><tab><caption>' per line and a split list (one image id per line) with "
        "the COCO images folder (train2014/val2014 below it are fine). One sample per caption."
    )
    files = (
        FileSpec("captions", "txt", "imageid.human-written-caption.txt", "<image>#<n><tab><caption> per line"),
        FileSpec("split_ids", "txt", "coco-cn_train.txt", "coco-cn_<train|val|test>.txt: image ids of the split"),
        FileSpec("images", "folder", "images", "COCO images named <image id>.jpg"),
    )
    source_dataset = "coco-cn"

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        label = source.name("captions")
        wanted = {_image_key(line) for _n, line in text_lines(source.file("split_ids"), source.name("split_ids"))}
        wanted.discard("")
        images = index_by_stem(source.folder("images"), IMAGE_SUFFIXES)
        for number, line in text_lines(source.file("captions"), label, source):
            if not line.strip():
                continue
            where = Location(label, number)
            match = CAPTION_LINE.match(line.strip())
            if match is None:
                yield Rejected(where, "expected '<image>#<n>' then the caption")
                continue
            key, caption = match["key"], match["caption"].strip()
            image = _image_key(key)
            if image not in wanted:
                continue
            relative = images.get(image)
            if relative is None:
                yield Rejected(where, f"no image file for {image}", key)
                continue
            yield Draft(
                source_id=key,
                media=[ImageFile(source.under("images", relative))],
                inputs="",
                output=caption,
                meta={"source_dataset": self.source_dataset, "image": image, "caption_key": key},
                where=where,
            )


def _image_key(text: str) -> str:
    """`COCO_val2014_000000290951#0` → `COCO_val2014_000000290951`; `2513260012_03d33305cf.jpg` → its stem."""
    key = text.strip().split("#", 1)[0].strip()
    stem, dot, suffix = key.rpartition(".")
    return stem if dot and f".{suffix.lower()}" in IMAGE_SUFFIXES else key


class Flickr8kCNAdapter(ChineseCaptionsAdapter):
    """Flickr8k-CN (Li et al., ICMR 2016; github li-xirong/flickr8kcn): caption files
    `flickr8kzhc.caption.txt` (crowd-sourced Chinese; `flickr8kzhb`/`zhg` are machine translations), lines
    `<photo>#zhc#<n> <caption>`, and Flickr8k's split lists `Flickr_8k.<train|dev|test>Images.txt`
    (`<photo>.jpg` per line)."""

    name = "flickr8k-cn"
    label = "Flickr8k-CN Chinese captions"
    files = (
        FileSpec("captions", "txt", "flickr8kzhc.caption.txt", "<photo>#zhc#<n> <caption> per line"),
        FileSpec("split_ids", "txt", "Flickr_8k.trainImages.txt", "Flickr_8k.<train|dev|test>Images.txt"),
        FileSpec("images", "folder", "Flicker8k_Dataset", "the Flickr8k images (<photo>.jpg)"),
    )
    source_dataset = "flickr8k-cn"


MSRVTT_SPLITS = {"train": "train", "val": "validate", "test": "test"}


class MSRVTTCaptionAdapter(Adapter):
    """MSR-VTT (Xu et al., CVPR 2016): `train_val_videodatainfo.json` / `test_videodatainfo.json` with
    `videos` (`video_id` "video7", `split` train/validate/test, `category`, times) and `sentences`
    (`video_id`, `caption`, `sen_id`), videos `video<n>.mp4`. Sentences are joined to their video by id;
    M3IT kept one caption per video (seeded choice here), all captions stay in meta. 8 frames per video."""

    name = "msrvtt-captions"
    label = "MSR-VTT video captions"
    description = (
        "train_val_videodatainfo.json or test_videodatainfo.json (videos + sentences, joined by video_id) with "
        "the videos folder. One sample per video with one seeded caption (captions_per_video=0: all)."
    )
    files = (
        FileSpec("info", "json", "train_val_videodatainfo.json", "the video info JSON (videos and sentences)"),
        FileSpec("videos", "folder", "TrainValVideo", "folder of video<n>.mp4 (TrainValVideo or TestVideo)"),
    )
    options = (
        FRAMES_OPTION,
        OptionSpec("captions_per_video", 1, "captions kept per video (seeded); 0 keeps all", "int"),
        OptionSpec("source_split", "", "MSR-VTT split to read (train, validate, test); empty: by target split"),
    )

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        frames, per_video = checked_frames(options), options["captions_per_video"]
        if per_video < 0:
            raise ImportInputError("captions_per_video must be at least 0")
        wanted = split_name(target, MSRVTT_SPLITS, options["source_split"])
        label, path = source.name("info"), source.file("info")
        videos = index_videos(source.folder("videos"))
        sentences = (
            (s["video_id"], [s.get("sen_id"), str(s["caption"]).strip()])
            for _n, s in json_items(path, "sentences.item", label)
            if isinstance(s, dict) and s.get("video_id") and str(s.get("caption") or "").strip()
        )
        with keyed_index(sentences) as captions:
            for number, video in json_items(path, "videos.item", label, source):
                where = Location(label, number, "item")
                video_id = str(video.get("video_id", "")) if isinstance(video, dict) else ""
                if problem := require(video, ("video_id",)):
                    yield Rejected(where, problem)
                    continue
                if video.get("split", wanted) != wanted:
                    continue
                relative = videos.get(video_id)
                found = captions.get(video_id)
                if relative is None or not found:
                    yield Rejected(
                        where, f"no {'video file' if relative is None else 'sentences'} for {video_id}", video_id
                    )
                    continue
                chosen = found
                if per_video and len(found) > per_video:
                    chosen = random.Random(option_seed(target.task, target.split, f"caption|{video_id}")).sample(
                        found, per_video
                    )
                for sen_id, caption in chosen:
                    yield Draft(
                        source_id=video_id if per_video == 1 else f"{video_id}-{sen_id}",
                        media=[VideoFile(source.under("videos", relative), frames=frames)],
                        inputs="",
                        output=caption,
                        meta={
                            "source_dataset": "msrvtt",
                            "video_id": video_id,
                            "sen_id": sen_id,
                            "category": video.get("category"),
                            "msrvtt_split": video.get("split"),
                            "captions": [c for _s, c in found],
                        },
                        where=where,
                    )
