"""COCO captions in Karpathy's split file (`dataset_coco.json`): one sample per caption."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.imports.adapters.base import (
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
    json_items,
    require,
)

# Karpathy's "restval" images are training images in every paper that uses the split, M3IT included.
KARPATHY_SPLITS = {"train": ("train", "restval"), "val": ("val",), "test": ("test",)}


class CocoKarpathyAdapter(Adapter):
    name = "coco-karpathy"
    label = "COCO captions (Karpathy split)"
    description = (
        "Karpathy's dataset_coco.json (images with split, filepath, filename, sentences) and the COCO images "
        "folder. One sample per caption; the split picks train+restval, val or test images."
    )
    files = (
        FileSpec("captions", "json", "dataset_coco.json", "Karpathy's split file"),
        FileSpec("images", "folder", "images", "COCO images folder holding <filepath>/<filename>"),
    )
    options = (OptionSpec("karpathy_splits", "", "comma-separated Karpathy splits to read; empty: by target split"),)

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        wanted = {s.strip() for s in str(options.get("karpathy_splits") or "").split(",") if s.strip()}
        wanted = wanted or set(KARPATHY_SPLITS[target.split])
        if unknown := wanted - {"train", "restval", "val", "test"}:
            raise ImportInputError(f"unknown Karpathy split(s): {', '.join(sorted(unknown))}")
        label = source.name("captions")
        images_dir = source.folder("images")
        for number, image in json_items(source.file("captions"), "images.item", label, source):
            where = Location(label, number, "item")
            if problem := require(image, ("filename", "split", "sentences")):
                yield Rejected(where, problem, str(image.get("cocoid", "")) if isinstance(image, dict) else "")
                continue
            if image["split"] not in wanted:
                continue
            image_id = image.get("cocoid", image.get("imgid", image["filename"]))
            relative = f"{image['filepath']}/{image['filename']}" if image.get("filepath") else image["filename"]
            if not (images_dir / relative).exists() and (images_dir / image["filename"]).exists():
                relative = image["filename"]  # images unpacked flat, without the train2014/val2014 folders
            try:
                path = source.under("images", relative)
            except ImportInputError as exc:
                yield Rejected(where, str(exc), str(image_id))
                continue
            for position, sentence in enumerate(image["sentences"]):
                raw = sentence.get("raw", "") if isinstance(sentence, dict) else ""
                sent_id = sentence.get("sentid", position) if isinstance(sentence, dict) else position
                source_id = f"{image_id}-{sent_id}"
                if not str(raw).strip():
                    yield Rejected(where, f"caption {position} has no raw text", source_id)
                    continue
                yield Draft(
                    source_id=source_id,
                    media=[ImageFile(path)],
                    inputs="",
                    output=str(raw).strip(),
                    meta={
                        "source_dataset": "coco",
                        "image_id": image_id,
                        "sentid": sent_id,
                        "filename": image["filename"],
                        "karpathy_split": image["split"],
                    },
                    where=where,
                )
