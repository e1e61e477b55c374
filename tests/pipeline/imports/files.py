"""Small source files in the real published formats, written by the tests (Pillow images, PyAV videos)."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image as PILImage

from pipeline.imports.importer import Importer, build_importer


def image_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (40, 30), fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, colour).save(out, format=fmt)
    return out.getvalue()


def write_image(path: Path, colour: tuple[int, int, int] = (10, 120, 200), size: tuple[int, int] = (40, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    path.write_bytes(image_bytes(colour, size, fmt))
    return path


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def write_jsonl(path: Path, records: Sequence[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def coco_name(image_id: int, subset: str = "val2014") -> str:
    return f"COCO_{subset}_{image_id:012d}.jpg"


def write_vqa(root: Path, questions: list[dict], annotations: list[dict], image_ids: Sequence[int]) -> None:
    """VQA v2 / OK-VQA layout: questions and annotations JSON with their header keys, COCO image names."""
    write_json(
        root / "questions.json",
        {
            "info": {},
            "task_type": "Open-Ended",
            "data_type": "mscoco",
            "data_subtype": "val2014",
            "questions": questions,
        },
    )
    write_json(
        root / "annotations.json",
        {"info": {}, "data_type": "mscoco", "data_subtype": "val2014", "annotations": annotations, "license": {}},
    )
    for image_id in image_ids:
        path = root / "images" / coco_name(image_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(id_image(image_id))


def id_image(number: int, fmt: str = "JPEG") -> bytes:
    """A 64x16 image whose eight 8x16 blocks spell `number` in black and white bits: distinct even as JPEG."""
    img = PILImage.new("RGB", (64, 16), (255, 255, 255))
    for bit in range(8):
        if number >> bit & 1:
            img.paste((0, 0, 0), (bit * 8, 0, bit * 8 + 8, 16))
    out = io.BytesIO()
    img.save(out, format=fmt)
    return out.getvalue()


def vqa_annotation(question_id: int, image_id: int, answers: list[str], mc: str | None = None) -> dict:
    return {
        "question_id": question_id,
        "image_id": image_id,
        "question_type": "what",
        "answer_type": "other",
        "multiple_choice_answer": mc or answers[0],
        "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1} for i, a in enumerate(answers)],
    }


def write_video(path: Path, colours: Sequence[tuple[int, int, int]], size: tuple[int, int] = (64, 48)) -> Path:
    """An H.264 clip whose frame i is filled with colours[i], so a sampled frame tells its index."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "0", "preset": "ultrafast"}
        for colour in colours:
            frame = av.VideoFrame.from_ndarray(np.full((size[1], size[0], 3), colour, dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def bomb_png(side: int = 12_000) -> bytes:
    """A tiny PNG whose header claims side x side pixels: a decompression bomb."""
    out = io.BytesIO()
    PILImage.new("1", (side, side)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def importer_for(adapter: str, task: str, split: str, folder: str, **params: Any) -> Importer:
    return build_importer({"adapter": adapter, "task": task, "split": split, "folder": folder, **params})
