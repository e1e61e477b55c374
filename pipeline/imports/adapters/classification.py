"""Image classification from an ImageNet-style folder tree (one folder per class) in M3IT's option format."""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Iterator
from pathlib import Path
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
    Row,
    SourceFiles,
    Target,
)

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def option_seed(task: str, split: str, source_id: str) -> int:
    """A stable seed per sample, so the options and the gold position are the same on every re-import."""
    digest = hashlib.sha256(f"options|{task}|{split}|{source_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def lettered_options(gold: str, labels: list[str], count: int, seed: int) -> tuple[list[str], int]:
    """`count` options: the gold label and distinct random distractors, gold at a seeded position."""
    rng = random.Random(seed)
    others = sorted({label for label in labels if label != gold})
    distractors = rng.sample(others, min(count - 1, len(others)))
    gold_at = rng.randrange(len(distractors) + 1)
    options = [*distractors[:gold_at], gold, *distractors[gold_at:]]
    return options, gold_at


def read_labels(path: Path) -> dict[str, str]:
    """`mapping.txt` style: "<folder> <name>[, other names]" per line → folder: first name."""
    labels: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        for raw in handle:
            parts = raw.strip().split(maxsplit=1)
            if len(parts) == 2:
                labels[parts[0]] = parts[1].split(",")[0].strip()
    return labels


class ImageFolderAdapter(Adapter):
    name = "image-folder"
    label = "Image classification folders (ImageNet style)"
    description = (
        "A folder with one sub-folder per class. Each image becomes a sample with ten lettered options "
        "(nine distractor classes, the gold class at a seeded random position); the output is '(X) class'."
    )
    files = (
        FileSpec("images", "folder", "images", "folder with one sub-folder of images per class"),
        FileSpec("labels", "txt", "mapping.txt", 'optional "<folder> <class name>" per line', required=False),
    )
    options = (
        OptionSpec("num_options", 10, "number of lettered options (gold + distractors)", "int"),
        OptionSpec("question", "What is the main object in this image?", "the question before the options"),
    )
    source_dataset = "image-folder"

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        count: int = options["num_options"]
        if not 2 <= count <= len(LETTERS):
            raise ImportInputError(f"num_options must be between 2 and {len(LETTERS)}")
        root = source.folder("images")
        names = read_labels(source.file("labels")) if source.has("labels") else {}
        folders = sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
        if len(folders) < 2:
            raise ImportInputError(f"{source.name('images')} needs at least two class folders, found {len(folders)}")
        label_of = {folder: names.get(folder, folder.replace("_", " ")) for folder in folders}
        # Distractors come from every class: the folders present and every class of the mapping, so a
        # split with three class folders still gets ten options (as M3IT's ImageNet task does).
        all_labels = sorted(set(label_of.values()) | set(names.values()))
        for folder in folders:
            files = sorted(
                entry.name
                for entry in os.scandir(root / folder)
                if entry.is_file() and os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES
            )
            for number, filename in enumerate(files, start=1):
                source_id = f"{folder}/{filename}"
                gold = label_of[folder]
                choices, gold_at = lettered_options(
                    gold, all_labels, count, option_seed(target.task, target.split, source_id)
                )
                lettered = "\n".join(f"({LETTERS[i]}) {choice}" for i, choice in enumerate(choices))
                yield Draft(
                    source_id=source_id,
                    media=[ImageFile(source.under("images", source_id))],
                    inputs=f"{options['question']}\nOptions:\n{lettered}",
                    output=f"({LETTERS[gold_at]}) {gold}",
                    meta={
                        "source_dataset": self.source_dataset,
                        "class_folder": folder,
                        "label": gold,
                        "options": choices,
                        "gold_index": gold_at,
                    },
                    where=Location(f"{source.name('images')}/{folder}", number, "file"),
                )


class ChineseFoodAdapter(ImageFolderAdapter):
    """ChineseFoodNet (Chen et al., 2017): one folder per dish (`000` … `207`) and the class list that maps a
    folder number to its Chinese dish name; given here as `class_names.txt` with "<folder> <name>" per line.
    Samples as the image-folder adapter builds them, with a Chinese question and Chinese option labels."""

    name = "chinese-food"
    label = "ChineseFoodNet (class folders, Chinese labels)"
    description = (
        "A folder per dish class (000 … 207) and class_names.txt ('<folder> <Chinese name>' per line). Lettered "
        "options of Chinese dish names; the output is '(X) 菜名'."
    )
    files = (
        FileSpec("images", "folder", "test", "the split's folder with one sub-folder per dish class"),
        FileSpec("labels", "txt", "class_names.txt", '"<folder> <Chinese name>" per line'),
    )
    options = (
        OptionSpec("num_options", 10, "number of lettered options (gold + distractors)", "int"),
        OptionSpec("question", "图片中的食物是什么？", "the question before the options"),  # noqa: RUF001 - Chinese mark
    )
    source_dataset = "chinesefoodnet"
