"""Video QA: MSRVTT-QA style JSON lists, MSVD-QA, ActivityNet-QA (questions + answers files) and iVQA (CSV).

Frames are sampled by the importer (pipeline.media.video): 8 uniformly spaced frames per video."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.imports.adapters.base import (
    VIDEO_SUFFIXES,
    Context,
    Draft,
    FileSpec,
    ImportInputError,
    Location,
    OptionSpec,
    RecordAdapter,
    Rejected,
    Row,
    RowProblem,
    SourceFiles,
    Target,
    VideoFile,
    index_by_stem,
    json_items,
    paraphrase_option,
)
from pipeline.imports.adapters.vqa import most_common_answer, pair_by_question_id


def index_videos(folder: Path) -> dict[str, str]:
    """File stem → path below `folder` ("video7" and "7" both find video7.mp4)."""
    index = index_by_stem(folder, VIDEO_SUFFIXES)
    for stem, relative in list(index.items()):
        if stem.startswith("video") and stem[5:].isdigit():
            index.setdefault(stem[5:], relative)
    return index


def per_video(rows: Iterator[Row], keep: int, seed: str) -> Iterator[Row]:
    """At most `keep` drafts per video (all when keep ≤ 0): the ones whose seeded hash of the source id is
    smallest, so the choice is the same on every read of the file and does not depend on its order.

    Rejected rows pass at once; the kept drafts come after the file is read, in order of first mention
    of their video. Memory: `keep` drafts per video."""
    if keep <= 0:
        yield from rows
        return
    kept: dict[str, list[tuple[bytes, Draft]]] = {}
    for row in rows:
        if isinstance(row, Rejected):
            yield row
            continue
        rank = hashlib.sha256(f"{seed}|{row.source_id}".encode()).digest()
        chosen = kept.setdefault(str(row.meta.get("video_id")), [])
        chosen.append((rank, row))
        chosen.sort(key=lambda pair: pair[0])
        del chosen[keep:]
    for chosen in kept.values():
        for _rank, draft in sorted(chosen, key=lambda pair: pair[1].where.line):
            yield draft


FRAMES_OPTION = OptionSpec("frames", 8, "frames sampled uniformly per video", "int")


def per_video_option(default: int) -> OptionSpec:
    return OptionSpec("per_video", default, "QA pairs kept per video (seeded choice); 0 keeps all", "int")


def frame_count(options: dict[str, Any]) -> int:
    frames: int = options["frames"]
    if not 1 <= frames <= 32:
        raise ImportInputError("frames must be between 1 and 32")
    return frames


class VideoQARecords(RecordAdapter):
    """Shared by the video QA formats: frames and per-video options, the video index, the per-video choice."""

    media_role, media_lookup, media_suffixes = "videos", "stem", VIDEO_SUFFIXES

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        frame_count(options)
        seed = f"{target.task}|{target.split}"
        return per_video(super().rows(source, options, target), options["per_video"], seed)

    def video_draft(
        self, where: Location, source_id: str, video: str, question: Any, answer: Any, meta: dict, context: Context
    ) -> Draft:
        return Draft(
            source_id=source_id,
            media=[VideoFile(video, frames=context.options["frames"])],
            inputs=str(question).strip(),
            output=str(answer).strip(),
            meta={"source_dataset": self.name, **meta},
            where=where,
            short_answer=context.options["paraphrase"],
        )


class VideoQAAdapter(VideoQARecords):
    """MSRVTT-QA style video QA (Xu et al., ACM MM 2017): `<split>_qa.json`, a JSON list of {id, video_id,
    question, answer, category_id}, and a folder of videos named by video id (video7.mp4 or 7.mp4). M3IT's
    MSRVTT-QA counts (6,513 / 497 / 2,990) are the split's videos, i.e. one QA pair per video: per_video=1."""

    name = "video-qa"
    label = "Video QA (MSRVTT-QA style)"
    description = (
        'A JSON list of {"id", "video_id", "question", "answer"} (MSRVTT-QA, MSVD-QA) and a folder of video '
        "files named by video id (video7.mp4 or 7.mp4). Eight frames are sampled uniformly from each video; "
        "per_video=1 keeps one QA pair per video as M3IT's MSRVTT-QA counts do."
    )
    files = (
        FileSpec("questions", "json", "train_qa.json", "the QA list of one split"),
        FileSpec("videos", "folder", "videos", "folder of video files"),
    )
    options = (FRAMES_OPTION, per_video_option(0), paraphrase_option(True))
    id_fields = ("id",)
    required = ("id", "video_id", "question", "answer")

    def video_keys(self, record: dict, context: Context) -> list[Any]:
        return [record["video_id"], f"video{record['video_id']}"]

    def build(self, where: Location, record: dict, source_id: str, context: Context) -> Iterator[Row]:
        keys = self.video_keys(record, context)
        video = context.find(*keys, label="video_id")
        meta = {
            "video_id": record["video_id"],
            "question_id": record["id"],
            "category_id": record.get("category_id"),
            "video_file": video,
        }
        yield self.video_draft(where, source_id, video, record["question"], record["answer"], meta, context)


class MSVDQAAdapter(VideoQAAdapter):
    """MSVD-QA (Xu et al., ACM MM 2017): `train_qa.json`, `val_qa.json`, `test_qa.json`, each a JSON list of
    {id, video_id (a number), question, answer}, and the MSVD clips (YouTubeClips/<youtube_id>_<start>_<end>.avi).
    `youtube_mapping.txt` ("<clip name> vid<N>" per line) maps the numbers to the clip names; clips already
    named vid<N> are found without it."""

    name = "msvd-qa"
    label = "MSVD-QA"
    description = (
        "MSVD-QA's <split>_qa.json (id, video_id, question, answer), the clips folder and optionally "
        "youtube_mapping.txt (clip name → vid<N>). Eight frames per clip; per_video limits QA pairs per clip."
    )
    files = (
        FileSpec("questions", "json", "train_qa.json", "the QA list of one split"),
        FileSpec("videos", "folder", "YouTubeClips", "folder of the MSVD clips"),
        FileSpec("mapping", "txt", "youtube_mapping.txt", "optional '<clip name> vid<N>' lines", required=False),
    )
    options = (FRAMES_OPTION, per_video_option(0), paraphrase_option(True))

    def prepare(self, context: Context) -> None:
        names: dict[str, str] = {}
        if context.source.has("mapping"):
            with context.source.file("mapping").open(encoding="utf-8") as handle:
                for line in handle:
                    parts = line.split()
                    if len(parts) == 2:
                        names[parts[1]] = parts[0]
        context.extra["names"] = names

    def video_keys(self, record: dict, context: Context) -> list[Any]:
        key = f"vid{record['video_id']}"
        return [k for k in (context.extra["names"].get(key), key, record["video_id"]) if k]


class ActivityNetQAAdapter(VideoQARecords):
    """ActivityNet-QA (Yu et al., AAAI 2019; github.com/MILVLG/activitynet-qa): `<split>_q.json` is a list of
    {video_name, question, question_id} and `<split>_a.json` a list of {answer, type, question_id}, joined by
    question_id; videos are ActivityNet's `v_<video_name>.mp4`. M3IT sampled one QA pair per video
    (3,200 / 1,800 / 800 videos), the default here (per_video=1, a seeded choice)."""

    name = "activitynet-qa"
    label = "ActivityNet-QA"
    description = (
        "ActivityNet-QA's <split>_q.json and <split>_a.json (joined by question_id) and the videos folder "
        "(v_<video_name>.mp4). One QA pair per video, as M3IT did (per_video=1); eight frames each."
    )
    files = (
        FileSpec("questions", "json", "train_q.json", "<split>_q.json"),
        FileSpec("answers", "json", "train_a.json", "<split>_a.json"),
        FileSpec("videos", "folder", "videos", "folder of the ActivityNet videos"),
    )
    options = (FRAMES_OPTION, per_video_option(1), paraphrase_option(True))
    id_fields = ("question_id",)
    required = ("question_id", "video_name", "question", "answer")

    def records(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[tuple[Location, Any]]:
        q_label, a_label = source.name("questions"), source.name("answers")
        questions = json_items(source.file("questions"), "item", q_label, source)
        answers = json_items(source.file("answers"), "item", a_label, source)
        for paired in pair_by_question_id(questions, answers, q_label, a_label):
            if isinstance(paired, Rejected):
                yield paired.where, paired
                continue
            where, question, answer = paired
            yield where, {**answer, **question} if isinstance(question, dict) and isinstance(answer, dict) else None

    def build(self, where: Location, record: dict, source_id: str, context: Context) -> Iterator[Row]:
        name = str(record["video_name"])
        video = context.find(name, f"v_{name}", label="video_name")
        meta = {"video_id": name, "question_id": record["question_id"], "answer_type": record.get("type")}
        yield self.video_draft(where, source_id, video, record["question"], record["answer"], meta, context)


IVQA_ANSWERS = tuple(f"answer{i}" for i in range(1, 6))


class IVQAAdapter(VideoQARecords):
    """iVQA (Yang et al., "Just Ask", ICCV 2021; github.com/antoyang/just-ask): `train.csv`, `val.csv`,
    `test.csv` with the columns video_id, start, end, question, answer1 … answer5 (five annotators' answers,
    at most four words), and the clips cut from HowTo100M videos (`<video_id>_<start>_<end>.mp4`, or named
    by video_id). The most common of the five answers is the output; all five are in meta."""

    name = "ivqa"
    label = "iVQA"
    description = (
        "iVQA's <split>.csv (video_id, start, end, question, answer1..answer5) and the clips folder "
        "(<video_id>_<start>_<end>.mp4 or <video_id>.mp4). Most common of the five answers; eight frames."
    )
    files = (
        FileSpec("questions", "csv", "train.csv", "the split's CSV"),
        FileSpec("videos", "folder", "videos", "folder of the iVQA clips"),
    )
    options = (FRAMES_OPTION, per_video_option(0), paraphrase_option(True))
    id_fields = ("id", "qid")
    required = ("video_id", "question")
    record_layout = "csv"

    def build(self, where: Location, record: dict, source_id: str, context: Context) -> Iterator[Row]:
        video_id, start, end = (str(record.get(k) or "").strip() for k in ("video_id", "start", "end"))
        clip = f"{video_id}_{start}_{end}" if start or end else video_id
        clip_int = f"{video_id}_{_whole(start)}_{_whole(end)}"
        answers = [str(record.get(k) or "").strip() for k in IVQA_ANSWERS]
        answers = [a for a in answers if a]
        if not answers:
            raise RowProblem(f"missing field(s): {', '.join(IVQA_ANSWERS)}")
        video = context.find(clip, clip_int, video_id, label="clip")
        meta = {"video_id": video_id, "start": start, "end": end, "clip": clip, "answers": answers}
        answer = most_common_answer(answers)
        yield self.video_draft(where, source_id or clip, video, record["question"], answer, meta, context)


def _whole(value: str) -> str:
    """ "12.0" → "12" (clip names use whole seconds)."""
    try:
        return str(int(float(value)))
    except ValueError:
        return value
