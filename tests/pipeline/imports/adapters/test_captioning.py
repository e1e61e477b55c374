"""TextCaps, Stanford paragraphs, COCO-CN, Flickr8k-CN and MSR-VTT captions in their published layouts."""

from __future__ import annotations

import pytest

from pipeline.models import ParaphraseState, Sample
from tests.pipeline.imports.adapters.sources import image_numbers, rejected_messages, run_import, write_numbered
from tests.pipeline.imports.files import write_json, write_video

pytestmark = pytest.mark.django_db


def test_textcaps_one_sample_per_caption_with_ocr_tokens(import_root, tasks):
    folder = import_root / "textcaps"

    def item(image_id, caption_id, caption):
        return {
            "image_id": image_id,
            "image_classes": ["Poster"],
            "flickr_original_url": "https://farm.example/x.jpg",
            "image_width": 64,
            "image_height": 16,
            "set_name": "train",
            "image_name": image_id,
            "image_path": f"train/{image_id}.jpg",
            "caption_id": caption_id,
            "caption_str": caption,
            "caption_tokens": caption.lower().split(),
            "reference_strs": [caption],
            "reference_tokens": [caption.lower().split()],
        }

    data = [
        item("011e7e629fb9ae7b", 5, "A poster that says Open Late."),
        item("011e7e629fb9ae7b", 6, "The sign reads open late."),
        item("0a1b2c3d4e5f6789", 7, "A bottle of Coca Cola."),
        item("ffffffffffffffff", 8, "An image that is missing."),
        {"image_id": "0a1b2c3d4e5f6789", "caption_id": 9},  # no caption_str, as in the test file
    ]
    write_json(folder / "TextCaps_0.1_train.json", {"dataset_type": "train", "dataset_name": "textcaps", "data": data})
    write_json(
        folder / "TextVQA_Rosetta_OCR_v0.2_train.json",
        {
            "dataset_name": "textvqa",
            "data": [
                {"image_id": "011e7e629fb9ae7b", "ocr_tokens": ["open", "late"], "ocr_info": []},
                {"image_id": "0a1b2c3d4e5f6789", "ocr_tokens": ["coca", "cola"], "ocr_info": []},
            ],
        },
    )
    write_numbered(folder / "train_images" / "011e7e629fb9ae7b.jpg", 1)
    write_numbered(folder / "train_images" / "0a1b2c3d4e5f6789.jpg", 2)

    outcome = run_import("textcaps", "textcap", "train", "textcaps")

    assert (outcome.created, outcome.rejected) == (3, 2)
    messages = rejected_messages(outcome)
    assert messages[0] == "TextCaps_0.1_train.json item 4: no image file for image_id ffffffffffffffff"
    assert messages[1].startswith("TextCaps_0.1_train.json item 5: missing field(s): caption_str")
    sample = Sample.objects.get(task__slug="textcap", source_id="7")
    assert (sample.inputs, sample.outputs, sample.paraphrase_state) == (
        "",
        "A bottle of Coca Cola.",
        ParaphraseState.NOT_NEEDED,
    )
    assert sample.meta["ocr_tokens"] == ["coca", "cola"]
    assert sample.meta["image_id"] == "0a1b2c3d4e5f6789" and sample.meta["image_classes"] == ["Poster"]
    assert image_numbers(sample) == [2]
    assert Sample.objects.get(source_id="5").meta["ocr_tokens"] == ["open", "late"]


def test_image_paragraphs_reads_the_split_list(import_root, tasks):
    folder = import_root / "paragraphs"
    paragraphs = [
        {
            "url": "https://cs.stanford.edu/people/rak248/VG_100K_2/1.jpg",
            "image_id": 1,
            "paragraph": "A man rides.  He  smiles. ",
        },
        {"url": "https://cs.stanford.edu/people/rak248/VG_100K/2.jpg", "image_id": 2, "paragraph": "A kitchen."},
        {"url": "https://cs.stanford.edu/people/rak248/VG_100K/3.jpg", "image_id": 3, "paragraph": "Two dogs."},
        {"url": "https://cs.stanford.edu/people/rak248/VG_100K/4.jpg", "image_id": 4},  # no paragraph
    ]
    write_json(folder / "paragraphs_v1.json", paragraphs)
    write_json(folder / "train_split.json", [1, 3, 4])
    write_json(folder / "val_split.json", [2])
    write_numbered(folder / "images" / "VG_100K_2" / "1.jpg", 1)
    write_numbered(folder / "images" / "VG_100K" / "2.jpg", 2)
    write_numbered(folder / "images" / "VG_100K" / "3.jpg", 3)

    train = run_import("image-paragraphs", "image-paragraph-captioning", "train", "paragraphs")
    val = run_import(
        "image-paragraphs", "image-paragraph-captioning", "val", "paragraphs", files={"split_ids": "val_split.json"}
    )

    assert (train.created, train.rejected, val.created) == (2, 1, 1)
    assert rejected_messages(train) == ["paragraphs_v1.json item 4: missing field(s): paragraph"]
    first = Sample.objects.get(split="train", source_id="1")
    assert (first.inputs, first.outputs) == ("", "A man rides. He smiles.")
    assert first.meta["url"].endswith("VG_100K_2/1.jpg") and image_numbers(first) == [1]
    assert Sample.objects.get(split="val").outputs == "A kitchen."


def test_coco_cn_captions_of_the_split_images(import_root, tasks):
    folder = import_root / "coco-cn"
    (folder).mkdir()
    (folder / "imageid.human-written-caption.txt").write_text(
        "COCO_val2014_000000290951#0\t一个男人在海边冲浪。\n"
        "COCO_val2014_000000290951#1\t海浪中的冲浪者。\n"
        "COCO_train2014_000000000009#0\t桌上放着几盘食物。\n"
        "COCO_train2014_000000000025#0\t一只长颈鹿在吃树叶。\n"
        "a line without a caption\n",
        encoding="utf-8",
    )
    (folder / "coco-cn_train.txt").write_text(
        "COCO_val2014_000000290951\nCOCO_train2014_000000000009\n", encoding="utf-8"
    )
    (folder / "coco-cn_val.txt").write_text("COCO_train2014_000000000025\n", encoding="utf-8")
    write_numbered(folder / "images" / "val2014" / "COCO_val2014_000000290951.jpg", 5)
    write_numbered(folder / "images" / "train2014" / "COCO_train2014_000000000009.jpg", 9)
    write_numbered(folder / "images" / "train2014" / "COCO_train2014_000000000025.jpg", 25)

    train = run_import("coco-cn", "coco-cn", "train", "coco-cn")
    val = run_import("coco-cn", "coco-cn", "val", "coco-cn", files={"split_ids": "coco-cn_val.txt"})

    assert (train.created, val.created) == (3, 1)
    assert rejected_messages(train) == [
        "imageid.human-written-caption.txt line 5: expected '<image>#<n>' then the caption"
    ]
    surf = Sample.objects.get(split="train", source_id="COCO_val2014_000000290951#1")
    assert (surf.inputs, surf.outputs) == ("", "海浪中的冲浪者。")
    assert surf.meta == {
        "source_dataset": "coco-cn",
        "image": "COCO_val2014_000000290951",
        "caption_key": "COCO_val2014_000000290951#1",
    }
    assert image_numbers(surf) == [5]
    assert Sample.objects.get(split="val").outputs == "一只长颈鹿在吃树叶。"


def test_flickr8k_cn_space_separated_lines_and_jpg_split_list(import_root, tasks):
    folder = import_root / "f8kcn"
    folder.mkdir()
    (folder / "flickr8kzhc.caption.txt").write_text(
        "2513260012_03d33305cf#zhc#0 两只狗在雪地里奔跑\n"
        "2513260012_03d33305cf#zhc#1 雪地上的两条狗\n"
        "3637013_c675de7705#zhc#0 一个小孩在玩水\n",
        encoding="utf-8",
    )
    (folder / "Flickr_8k.trainImages.txt").write_text("2513260012_03d33305cf.jpg\n", encoding="utf-8")
    write_numbered(folder / "Flicker8k_Dataset" / "2513260012_03d33305cf.jpg", 3)
    write_numbered(folder / "Flicker8k_Dataset" / "3637013_c675de7705.jpg", 4)

    outcome = run_import("flickr8k-cn", "flickr8k-cn", "train", "f8kcn")

    assert (outcome.created, outcome.rejected) == (2, 0)
    sample = Sample.objects.get(source_id="2513260012_03d33305cf#zhc#0")
    assert sample.outputs == "两只狗在雪地里奔跑"
    assert sample.meta["source_dataset"] == "flickr8k-cn" and image_numbers(sample) == [3]


def test_msrvtt_one_seeded_caption_per_video_and_eight_frames(import_root, tasks):
    folder = import_root / "msrvtt"
    videos = [
        {
            "category": 9,
            "url": "https://youtube.example/a",
            "video_id": "video0",
            "start time": 1.0,
            "end time": 9.0,
            "split": "train",
            "id": 0,
        },
        {
            "category": 16,
            "url": "https://youtube.example/b",
            "video_id": "video1",
            "start time": 2.0,
            "end time": 8.0,
            "split": "validate",
            "id": 1,
        },
        {
            "category": 3,
            "url": "https://youtube.example/c",
            "video_id": "video2",
            "start time": 0.0,
            "end time": 5.0,
            "split": "train",
            "id": 2,
        },
    ]
    sentences = [{"caption": f"caption {n} of video0", "video_id": "video0", "sen_id": n} for n in range(4)]
    sentences += [{"caption": "a man is cooking", "video_id": "video1", "sen_id": 4}]
    sentences += [{"caption": "lost video", "video_id": "video2", "sen_id": 5}]
    write_json(
        folder / "train_val_videodatainfo.json", {"info": {"year": 2016}, "videos": videos, "sentences": sentences}
    )
    colours = [(i * 30, 255 - i * 30, 40) for i in range(12)]
    write_video(folder / "TrainValVideo" / "video0.mp4", colours)
    write_video(folder / "TrainValVideo" / "video1.mp4", colours)

    train = run_import("msrvtt-captions", "msrvtt", "train", "msrvtt")
    val = run_import("msrvtt-captions", "msrvtt", "val", "msrvtt")
    every = run_import(
        "msrvtt-captions", "msrvtt", "test", "msrvtt", options={"captions_per_video": 0, "source_split": "train"}
    )

    assert (train.created, train.rejected, val.created) == (1, 1, 1)
    assert rejected_messages(train) == ["train_val_videodatainfo.json item 3: no video file for video2"]
    sample = Sample.objects.get(split="train", source_id="video0")
    assert sample.outputs in {f"caption {n} of video0" for n in range(4)}
    assert sample.meta["captions"] == [f"caption {n} of video0" for n in range(4)]
    assert sample.meta["sen_id"] == int(sample.outputs.split()[1]) and sample.meta["msrvtt_split"] == "train"
    assert sample.sample_images.count() == 8
    assert Sample.objects.get(split="val").outputs == "a man is cooking"
    # captions_per_video=0 keeps every caption, one sample each.
    assert every.created == 4
    assert sorted(Sample.objects.filter(split="test").values_list("source_id", flat=True)) == [
        f"video0-{n}" for n in range(4)
    ]
