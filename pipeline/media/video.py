"""Uniform frame sampling from a video with PyAV (sequential decode; see stack notes §5).

A video file comes from an upload, so FFmpeg is held to what we mean to read: only the container
formats on `ALLOWED_FORMATS` are probed (`format_whitelist`; an HLS `.m3u8` playlist, `concat` or
`image2` lists would make FFmpeg read other files), only local files are opened (`protocol_whitelist`),
and the frame size the stream declares is checked against the image limits before a frame is decoded.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from django.conf import settings
from PIL import Image as PILImage

# FFmpeg demuxer names of the containers behind VIDEO_SUFFIXES (mp4/mov/m4v, mkv/webm, avi, gif).
ALLOWED_FORMATS = ("mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "avi", "gif")
OPEN_OPTIONS = {"format_whitelist": ",".join(ALLOWED_FORMATS), "protocol_whitelist": "file"}


class VideoRejected(ValueError):
    """The file cannot be decoded as a video; the message says why."""


@dataclass(frozen=True)
class SampledFrames:
    """The sampled frames (JPEG bytes, in time order) and their 0-based frame indexes in the video."""

    indexes: list[int]
    frames: list[bytes]


def frame_positions(total: int, count: int) -> list[int]:
    """`count` indices spread evenly from the first to the last frame (repeats when the clip is short)."""
    if total <= 0:
        return []
    return [int(i) for i in np.linspace(0, total - 1, count).round()]


def open_video(path: Path) -> Any:
    """The container, opened with the allow-lists; VideoRejected when its format is not allowed."""
    try:
        return av.open(str(path), options=dict(OPEN_OPTIONS))
    except av.ArgumentError as exc:  # FFmpeg answers EINVAL when the probed format is not on the whitelist
        raise VideoRejected(
            f"video {path.name} is not in an allowed container format ({', '.join(ALLOWED_FORMATS)})"
        ) from exc


def check_frame_size(width: int, height: int, name: str) -> None:
    """The image limits, applied to a video's frames (they are stored as images)."""
    side, pixels = settings.IMAGE_MAX_SIDE, settings.IMAGE_MAX_PIXELS
    if min(width, height) < 1 or max(width, height) > side or width * height > pixels:
        raise VideoRejected(
            f"video {name} has {width}x{height} frames; each side must be 1 to {side} pixels "
            f"and a frame at most {pixels} pixels"
        )


def _video_stream(container: Any, name: str) -> Any:
    if not container.streams.video:
        raise VideoRejected(f"video {name} has no video stream")
    stream = container.streams.video[0]
    check_frame_size(stream.codec_context.width, stream.codec_context.height, name)
    return stream


def _count_frames(path: Path) -> int:
    with open_video(path) as container:
        stream = _video_stream(container, path.name)
        # Count packets rather than trusting the header's frame count, which some files get wrong.
        return sum(1 for packet in container.demux(stream) if packet.size)


def sample_video(path: Path, count: int = 8, quality: int = 90) -> SampledFrames:
    """`count` uniformly spaced frames of the video as JPEG bytes, in time order, with their indexes."""
    try:
        total = _count_frames(path)
        positions = frame_positions(total, count)
        wanted = set(positions)
        decoded: dict[int, bytes] = {}
        with open_video(path) as container:
            stream = _video_stream(container, path.name)
            stream.thread_type = "AUTO"
            for index, frame in enumerate(container.decode(stream)):
                if index in wanted:
                    check_frame_size(frame.width, frame.height, path.name)  # a stream may change size
                    out = io.BytesIO()
                    PILImage.fromarray(frame.to_ndarray(format="rgb24")).save(out, format="JPEG", quality=quality)
                    decoded[index] = out.getvalue()
                if index >= positions[-1]:
                    break
    except VideoRejected:
        raise
    except (av.FFmpegError, IndexError, OSError, ValueError) as exc:
        # FFmpeg's messages name the file by its full path: users see only its name.
        raise VideoRejected(f"video {path.name} cannot be decoded: {str(exc).replace(str(path), path.name)}") from exc
    if not positions or len(decoded) < len(wanted):
        raise VideoRejected(f"video {path.name} has no decodable frames ({len(decoded)} of {len(wanted)} decoded)")
    return SampledFrames(positions, [decoded[i] for i in positions])


def sample_frames(path: Path, count: int = 8, quality: int = 90) -> list[bytes]:
    """`count` uniformly spaced frames of the video as JPEG bytes, in time order."""
    return sample_video(path, count, quality).frames
