"""Something-Something v2 action classification: labels JSON + one annotation JSON per split + .webm videos."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pipeline.imports.adapters.base import (
    Adapter,
    Draft,
    FileSpec,
    ImportInputError,
    Location,
    OptionSpec,
    Rejected,
    Row,
    SourceFiles,
    Target,
    VideoFile,
    json_entries,
    json_items,
    require,
)
from pipeline.imports.adapters.classification import lettered_options, option_seed
from pipeline.imports.adapters.common import FRAMES_OPTION, checked_frames
from pipeline.imports.adapters.video import index_videos


def template_class(template: str) -> str:
    """ "Putting [something] into [something]" → "Putting something into something" (the labels' spelling)."""
    return re.sub(r"\[([^\]]*)\]", r"\1", template).strip()


class SomethingSomethingAdapter(Adapter):
    """Something-Something v2 (Goyal et al., ICCV 2017; the 20BN release): `something-something-v2-labels.json`
    (class text → index, 174 classes), `something-something-v2-<train|validation>.json` (lists of `id`,
    `label`, `template`, `placeholders`) and the videos `<id>.webm`. One sample per video: numbered class
    options (gold + seeded distractors); the output is "<n>. <class>", as M3IT's loader builds it."""

    name = "something-something"
    label = "Something-Something v2 (actions)"
    description = (
        "something-something-v2-labels.json and the split's annotation JSON with the videos folder (<id>.webm). "
        "Numbered class options, output '<n>. <class>'; 8 frames per video."
    )
    files = (
        FileSpec("labels", "json", "something-something-v2-labels.json", "class text → index"),
        FileSpec("annotations", "json", "something-something-v2-train.json", "something-something-v2-<split>.json"),
        FileSpec("videos", "folder", "20bn-something-something-v2", "the videos, <id>.webm"),
    )
    options = (
        OptionSpec("num_options", 10, "class options per video (gold + distractors); 0 lists all classes", "int"),
        FRAMES_OPTION,
        OptionSpec("question", "What action is performed in the video?", "the question before the options"),
    )

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        count, frames = options["num_options"], checked_frames(options)
        if count == 1 or count < 0:
            raise ImportInputError("num_options must be 0 or at least 2")
        classes = {
            key.strip(): value for _n, key, value in json_entries(source.file("labels"), "", source.name("labels"))
        }
        if len(classes) < 2:
            raise ImportInputError(f"{source.name('labels')} needs at least two classes, found {len(classes)}")
        names = sorted(classes)
        label = source.name("annotations")
        videos = index_videos(source.folder("videos"))
        for number, record in json_items(source.file("annotations"), "item", label, source):
            where = Location(label, number, "item")
            video_id = str(record.get("id", "")) if isinstance(record, dict) else ""
            if problem := require(record, ("id", "template")):
                yield Rejected(where, f"{problem} (the test list carries no template)", video_id)
                continue
            gold = template_class(str(record["template"]))
            relative = videos.get(video_id)
            if gold not in classes or relative is None:
                problem = f"template {gold!r} is not in the labels file" if relative else f"no video file {video_id}"
                yield Rejected(where, problem, video_id)
                continue
            seed = option_seed(target.task, target.split, video_id)
            choices, gold_at = (names, names.index(gold)) if count == 0 else lettered_options(gold, names, count, seed)
            numbered = "\n".join(f"{i}. {choice}" for i, choice in enumerate(choices, start=1))
            yield Draft(
                source_id=video_id,
                media=[VideoFile(source.under("videos", relative), frames=frames)],
                inputs=f"{options['question']}\nOptions:\n{numbered}",
                output=f"{gold_at + 1}. {gold}",
                meta={
                    "source_dataset": "something-something-v2",
                    "video_id": video_id,
                    "class_index": classes[gold],
                    "template": record["template"],
                    "label": record.get("label"),
                    "placeholders": record.get("placeholders", []),
                    "options": choices,
                },
                where=where,
            )
