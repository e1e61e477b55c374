"""Videos from uploads: only allowed container formats, local files only, frame size checked first."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from pipeline.media.video import VideoRejected, sample_frames, sample_video
from pipeline.models import Sample
from tests.pipeline.imports.files import importer_for, write_json, write_jsonl, write_video


def _ts_segment(path: Path) -> Path:
    """A real MPEG-TS clip, as an HLS segment would be."""
    with av.open(str(path), "w", format="mpegts") as container:
        stream = container.add_stream("mpeg4", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(8):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_an_hls_playlist_reaching_outside_the_folder_is_not_opened(tmp_path):
    outside = _ts_segment(tmp_path / "secret.ts")
    inside = tmp_path / "upload"
    inside.mkdir()
    playlist = inside / "clip.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{outside}\n#EXT-X-ENDLIST\n")
    with av.open(str(playlist)) as container:  # what FFmpeg does unchecked: it follows the playlist
        assert container.format.name == "hls" and sum(1 for _ in container.decode(video=0)) == 8
    with pytest.raises(VideoRejected, match=r"clip.m3u8 is not in an allowed container format \(mov, mp4"):
        sample_frames(playlist)
    # The segment itself is MPEG-TS, not on the list either.
    with pytest.raises(VideoRejected, match="not in an allowed container format"):
        sample_frames(outside)


def test_a_video_with_huge_declared_frames_is_refused_before_decoding(tmp_path):
    """A 100 kB lossless clip of one 12000x12000 frame: refused from its header (a decode takes 430 MB)."""
    path = tmp_path / "huge.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=1)
        stream.width, stream.height, stream.pix_fmt = 12_000, 12_000, "gray"
        frame = av.VideoFrame.from_ndarray(np.zeros((12_000, 12_000), dtype=np.uint8), format="gray")
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    assert path.stat().st_size < 1_000_000
    with pytest.raises(VideoRejected, match=r"huge.mkv has 12000x12000 frames; .* at most 40000000 pixels"):
        sample_frames(path)


def test_frame_size_limits_follow_the_image_settings(tmp_path, settings):
    path = write_video(tmp_path / "v.mp4", [(i, i, i) for i in range(4)], size=(64, 48))
    assert len(sample_frames(path, 4)) == 4
    settings.IMAGE_MAX_SIDE = 60
    with pytest.raises(VideoRejected, match="has 64x48 frames; each side must be 1 to 60 pixels"):
        sample_frames(path, 4)


def test_sampled_frame_indexes_are_returned(tmp_path):
    path = write_video(tmp_path / "v.mp4", [(i * 8, 0, 0) for i in range(30)])
    sampled = sample_video(path, 8)
    assert sampled.indexes == [0, 4, 8, 12, 17, 21, 25, 29] and len(sampled.frames) == 8


@pytest.mark.django_db
def test_an_import_rejects_the_playlist_row_and_records_frame_indexes_in_meta(tmp_path, settings):
    from annotator.registry import load_tasks

    load_tasks()
    root = tmp_path / "root"
    settings.IMPORT_ROOT = root
    write_video(root / "g" / "images" / "ok.mp4", [(i * 8, 0, 0) for i in range(30)])
    outside = _ts_segment(tmp_path / "secret.ts")
    (root / "g" / "images" / "list.m3u8").write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{outside}\n#EXT-X-ENDLIST\n"
    )
    write_jsonl(
        root / "g" / "records.jsonl",
        [{"id": "ok", "image": "ok.mp4", "output": "a"}, {"id": "hls", "image": "list.m3u8", "output": "b"}],
    )
    outcome = importer_for("generic", "gqa", "val", "g", options={"video": True}, max_rejected=1).run()
    assert (outcome.created, outcome.rejected) == (1, 1)
    assert "list.m3u8 is not in an allowed container format" in outcome.first_rejected[0]["message"]
    assert Sample.objects.get(source_id="ok").meta["frame_indexes"] == [0, 4, 8, 12, 17, 21, 25, 29]

    write_json(root / "v" / "train_qa.json", [{"id": 5, "video_id": 7, "question": "What?", "answer": "red"}])
    write_video(root / "v" / "videos" / "video7.mp4", [(i, 0, 0) for i in range(3)])
    importer_for("video-qa", "msrvtt-qa", "train", "v").run()
    assert Sample.objects.get(source_id="5").meta["frame_indexes"] == [0, 0, 1, 1, 1, 1, 2, 2]
