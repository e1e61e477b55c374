"""Uniform frame sampling from a video with PyAV (sequential decode; see stack notes §5)."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
from PIL import Image as PILImage


class VideoRejected(ValueError):
    """The file cannot be decoded as a video; the message says why."""


def frame_positions(total: int, count: int) -> list[int]:
    """`count` indices spread evenly from the first to the last frame (repeats when the clip is short)."""
    if total <= 0:
        return []
    return [int(i) for i in np.linspace(0, total - 1, count).round()]


def _count_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        # Count packets rather than trusting the header's frame count, which some files get wrong.
        return sum(1 for packet in container.demux(stream) if packet.size)


def sample_frames(path: Path, count: int = 8, quality: int = 90) -> list[bytes]:
    """`count` uniformly spaced frames of the video as JPEG bytes, in time order."""
    try:
        total = _count_frames(path)
        positions = frame_positions(total, count)
        wanted = set(positions)
        decoded: dict[int, bytes] = {}
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for index, frame in enumerate(container.decode(stream)):
                if index in wanted:
                    out = io.BytesIO()
                    PILImage.fromarray(frame.to_ndarray(format="rgb24")).save(out, format="JPEG", quality=quality)
                    decoded[index] = out.getvalue()
                if index >= positions[-1]:
                    break
    except (av.FFmpegError, IndexError, OSError, ValueError) as exc:
        raise VideoRejected(f"video {path.name} cannot be decoded: {exc}") from exc
    if not positions or len(decoded) < len(wanted):
        raise VideoRejected(f"video {path.name} has no decodable frames ({len(decoded)} of {len(wanted)} decoded)")
    return [decoded[i] for i in positions]
