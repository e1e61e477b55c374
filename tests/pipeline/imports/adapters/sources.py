"""Helpers of the adapter tests: numbered images, reading them back, running an import that may reject."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image as PILImage

from pipeline.imports.importer import ImportOutcome
from pipeline.media.images import read_image_bytes
from pipeline.models import Image, Sample
from tests.pipeline.imports.files import id_image, importer_for


def write_numbered(path: Path, number: int) -> Path:
    """An image that spells `number` in eight black/white blocks (see files.id_image), JPEG or PNG by suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(id_image(number, "PNG" if path.suffix.lower() == ".png" else "JPEG"))
    return path


def pixels(image: Image) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(read_image_bytes(image))).convert("RGB")).astype(int)


def number_of(image: Image) -> int:
    """The number a write_numbered image spells (read from the stored copy)."""
    grid = pixels(image)
    return sum(1 << bit for bit in range(8) if grid[8, bit * 8 + 4].mean() < 128)


def image_numbers(sample: Sample) -> list[int]:
    """The numbers of a sample's images, in the sample's order."""
    return [number_of(link.image) for link in sample.sample_images.select_related("image")]


def run_import(adapter: str, task: str, split: str, folder: str, **params: Any) -> ImportOutcome:
    params.setdefault("max_rejected", 100)
    return importer_for(adapter, task, split, folder, **params).run()


def rejected_messages(outcome: ImportOutcome) -> list[str]:
    return [f"{row['file']} {row['unit']} {row['line']}: {row['message']}" for row in outcome.first_rejected]


def write_webm(path: Path, frames: int = 8, size: tuple[int, int] = (64, 48)) -> Path:
    """A VP9 .webm clip (Something-Something's format), frame i a grey level of i."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libvpx-vp9", rate=12)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            array = np.full((size[1], size[0], 3), 20 + i * 25, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
