"""Video QA in MSRVTT-QA style: a JSON list of {id, video_id, question, answer} and a folder of videos.

Frames are sampled by the importer (pipeline.media.video): 8 uniformly spaced frames per video."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.imports.adapters.base import (
    VIDEO_SUFFIXES,
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
    json_items,
    require,
)


def index_videos(folder: Path) -> dict[str, str]:
    """File stem → path below `folder` ("video7" and "7" both find video7.mp4)."""
    index: dict[str, str] = {}
    for dirpath, _dirnames, filenames in os.walk(folder):
        for filename in filenames:
            stem, suffix = os.path.splitext(filename)
            if suffix.lower() in VIDEO_SUFFIXES:
                relative = os.path.relpath(os.path.join(dirpath, filename), folder)
                index.setdefault(stem, relative)
                if stem.startswith("video") and stem[5:].isdigit():
                    index.setdefault(stem[5:], relative)
    return index


class VideoQAAdapter(Adapter):
    name = "video-qa"
    label = "Video QA (MSRVTT-QA style)"
    description = (
        'A JSON list of {"id", "video_id", "question", "answer"} (MSRVTT-QA, MSVD-QA) and a folder of video '
        "files named by video id (video7.mp4 or 7.mp4). Eight frames are sampled uniformly from each video."
    )
    files = (
        FileSpec("questions", "json", "train_qa.json", "the QA list of one split"),
        FileSpec("videos", "folder", "videos", "folder of video files"),
    )
    options = (OptionSpec("frames", 8, "frames sampled uniformly per video", "int"),)

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        frames: int = options["frames"]
        if not 1 <= frames <= 32:
            raise ImportInputError("frames must be between 1 and 32")
        label = source.name("questions")
        videos = index_videos(source.folder("videos"))
        for number, record in json_items(source.file("questions"), "item", label, source):
            where = Location(label, number, "item")
            source_id = str(record.get("id", "")) if isinstance(record, dict) else ""
            if problem := require(record, ("id", "video_id", "question", "answer")):
                yield Rejected(where, problem, source_id)
                continue
            relative = videos.get(str(record["video_id"]))
            if relative is None:
                yield Rejected(where, f"no video file for video_id {record['video_id']}", source_id)
                continue
            yield Draft(
                source_id=source_id,
                media=[VideoFile(source.under("videos", relative), frames=frames)],
                inputs=str(record["question"]).strip(),
                output=str(record["answer"]).strip(),
                meta={
                    "source_dataset": "video-qa",
                    "video_id": record["video_id"],
                    "question_id": record["id"],
                    "category_id": record.get("category_id"),
                    "video_file": relative,
                },
                where=where,
                short_answer=True,
            )
