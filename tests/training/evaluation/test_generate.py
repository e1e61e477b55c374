"""Generation: the training prompt, the cut at the first newline, batches, video frames, a tiny real BLIP-2."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.evaluation.generate import answers
from training.evaluation.prompt import CHINESE_PRIMING, build_prompt, first_line
from training.evaluation.records import EvalItem, RecordsError, frames, read_items

from .helpers import png_b64, record, write_export


def test_prompt_is_the_human_bot_template() -> None:
    assert build_prompt("Answer the question.", "What colour is the car?") == (
        "<human>: Answer the question.\nWhat colour is the car?\n<bot>: "
    )
    zh = build_prompt("描述这张图片。", "", chinese=True)
    assert zh.startswith(CHINESE_PRIMING) and zh.endswith("<human>: 描述这张图片。\n\n<bot>: ")
    assert CHINESE_PRIMING.endswith("<bot>: 好的。\n")


def test_answer_is_cut_at_the_first_newline() -> None:
    assert first_line("A red car.\n<human>: and more") == "A red car."
    assert first_line("\nyes\nno") == "yes"  # a newline before any answer text does not end the answer
    calls: list[int] = []

    def backend(items: list[EvalItem]) -> list[str]:
        calls.append(len(items))
        return [f"answer {item.record_id}\nrambling on" for item in items]

    items = [EvalItem("okvqa", str(i), "i", "q", "r", [], "p") for i in range(5)]
    got = [(item.record_id, text) for item, text in answers(items, backend, batch_size=2)]
    assert got == [(str(i), f"answer {i}") for i in range(5)]
    assert calls == [2, 2, 1]


def test_video_records_keep_eight_uniform_frames() -> None:
    twenty = [str(i) for i in range(20)]
    assert frames(twenty, "video") == ["0", "3", "5", "8", "11", "14", "16", "19"]
    assert frames(twenty[:5], "video") == twenty[:5]
    assert frames(twenty, "image") == twenty


def test_read_items_streams_an_export(tmp_path: Path) -> None:
    root = write_export(
        tmp_path,
        {
            ("okvqa", "kvqa", "val"): [record("Answer.", "Q1", "A1"), record("Answer.", "Q2", "A2", id="x9")],
            ("msvd-qa", "video", "val"): [record("Watch.", "Q", "A", [png_b64((i, 0, 0)) for i in range(12)])],
            ("coco-cn", "chinese", "val"): [record("描述。", "", "一只猫")],
        },
    )
    items = [(info.slug, item) for info, item in read_items(root, "val", chinese_priming=True)]
    assert [(slug, item.record_id) for slug, item in items] == [
        ("okvqa", "0"),
        ("okvqa", "x9"),
        ("msvd-qa", "0"),
        ("coco-cn", "0"),
    ]
    assert len(items[2][1].images_b64) == 8
    assert items[3][1].prompt.startswith(CHINESE_PRIMING) and not items[0][1].prompt.startswith(CHINESE_PRIMING)
    with pytest.raises(RecordsError, match="no test split"):
        list(read_items(root, "test"))
    with pytest.raises(RecordsError, match="for: viquae"):
        list(read_items(root, "val", tasks=["viquae"]))


def test_published_layout_without_a_manifest(tmp_path: Path) -> None:
    root = write_export(tmp_path, {("okvqa", "vqa", "val"): [record("Answer.", "Q", "A")]}, manifest=False)
    ((info, item),) = list(read_items(root, "val"))
    assert (info.slug, info.group, item.reference) == ("okvqa", "kvqa", "A")  # group from the registry


def test_tiny_blip2_batched_video_and_image() -> None:
    pytest.importorskip("transformers")
    from training.evaluation.tiny import tiny_backend

    backend = tiny_backend(max_new_tokens=6)
    image = EvalItem("okvqa", "0", "i", "q", "r", [png_b64()], build_prompt("What is it?", "q"))
    video = EvalItem("msvd-qa", "1", "i", "q", "r", [png_b64((i * 30, 0, 0)) for i in range(8)], build_prompt("v", "q"))
    batch = backend.encode([image, video])
    assert batch["pixel_values"].shape[0] == 9  # 1 image + 8 frames
    placeholders = (batch["input_ids"] == backend.image_token_id).sum(dim=1).tolist()
    assert placeholders == [4, 32]  # num_query_tokens per image / per frame
    together = backend([image, video])
    assert len(together) == 2 and all(isinstance(t, str) for t in together)
    assert [backend([image])[0], backend([video])[0]] == together  # left padding changes nothing
    got = list(answers([image, video], backend, batch_size=2))
    assert all("\n" not in text for _, text in got)
