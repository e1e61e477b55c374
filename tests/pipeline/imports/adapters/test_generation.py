"""VIST, Visual Dialog, Multi30k and MMChat in their published layouts."""

from __future__ import annotations

import gzip
import json

import pytest

from pipeline.models import Sample
from tests.pipeline.imports.adapters.sources import image_numbers, rejected_messages, run_import, write_numbered
from tests.pipeline.imports.files import write_json

pytestmark = pytest.mark.django_db


def _story(story_id: str, photos: list[int], order: list[int]) -> list[list[dict]]:
    """Five one-element lists, as the SIS file nests them; `order` is worker_arranged_photo_order."""
    return [
        [
            {
                "original_text": f"Sentence {position} of story {story_id}.",
                "album_id": "72157605930515606",
                "photo_flickr_id": str(photo),
                "setting": "first-2-pick-and-tell",
                "worker_id": "ABC",
                "story_id": story_id,
                "tier": "story-in-sequence",
                "worker_arranged_photo_order": position,
                "text": f"sentence {position} of story {story_id} .",
                "storylet_id": str(int(story_id) * 5 + position),
            }
        ]
        for photo, position in zip(photos, order, strict=True)
    ]


def test_vist_one_story_of_five_images_in_story_order(import_root, tasks):
    folder = import_root / "vist"
    annotations = (
        _story("30355", [11, 12, 13, 14, 15], [0, 1, 2, 3, 4])
        + _story("30356", [21, 22, 23, 24, 25], [3, 0, 4, 1, 2])  # listed out of order
        + _story("30357", [31, 32, 33, 34, 99], [0, 1, 2, 3, 4])  # photo 99 was never downloaded
        + _story("30358", [41, 42, 43], [0, 1, 2])  # short story
    )
    write_json(
        folder / "val.story-in-sequence.json",
        {"info": {}, "images": [], "albums": [], "type": "story_in_sequence", "annotations": annotations},
    )
    for photo in [11, 12, 13, 14, 15, 21, 22, 23, 24, 25, 31, 32, 33, 34, 41, 42, 43]:
        write_numbered(folder / "images" / "val" / f"{photo}.{'png' if photo == 23 else 'jpg'}", photo)

    outcome = run_import(
        "vist", "vist", "val", "vist", files={"stories": "val.story-in-sequence.json", "images": "images/val"}
    )

    assert (outcome.created, outcome.rejected) == (2, 2)
    assert rejected_messages(outcome) == [
        "val.story-in-sequence.json annotation 11: story 30357: no image file for photo 99",
        "val.story-in-sequence.json annotation 16: story 30358 has 3 complete sentences, expected 5",
    ]
    story = Sample.objects.get(source_id="30356")
    assert image_numbers(story) == [22, 24, 25, 21, 23]  # by worker_arranged_photo_order
    assert story.inputs == ""
    assert story.outputs == " ".join(f"Sentence {n} of story 30356." for n in range(5))
    assert story.meta["photo_flickr_ids"] == ["22", "24", "25", "21", "23"]
    assert story.meta["album_id"] == "72157605930515606"
    assert image_numbers(Sample.objects.get(source_id="30355")) == [11, 12, 13, 14, 15]


def test_visual_dialog_history_goes_into_inputs(import_root, tasks):
    folder = import_root / "visdial"
    questions = ["is it sunny", "how many people", "are they young", "what colour is the car"]
    answers = ["yes", "2", "no , they look old", "red"]
    dialogs = [
        {
            "image_id": 185565,
            "caption": "two people sit on a bench",
            "dialog": [
                {"question": 0, "answer": 0, "answer_options": [0, 1], "gt_index": 0},
                {"question": 1, "answer": 1, "answer_options": [1, 2], "gt_index": 0},
                {"question": 2, "answer": 2, "answer_options": [2, 3], "gt_index": 0},
            ],
        },
        {"image_id": 284024, "caption": "a parked car", "dialog": [{"question": 3, "answer_options": [0, 3]}]},
        {"image_id": 1, "caption": "no image", "dialog": [{"question": 0, "answer": 0}]},
    ]
    # The dialogs come before the string lists here: the lists are indexed in a pass of their own.
    write_json(
        folder / "visdial_1.0_val.json",
        {
            "version": "1.0",
            "split": "val2018",
            "data": {"dialogs": dialogs, "questions": questions, "answers": answers},
        },
    )
    write_numbered(folder / "VisualDialog_val2018" / "VisualDialog_val2018_000000185565.jpg", 5)
    write_numbered(folder / "VisualDialog_val2018" / "VisualDialog_val2018_000000284024.jpg", 6)
    files = {"dialogs": "visdial_1.0_val.json", "images": "VisualDialog_val2018"}

    last = run_import("visual-dialog", "visual-dialog", "val", "visdial", files=files)
    every = run_import("visual-dialog", "visual-dialog", "train", "visdial", files=files, options={"rounds": "all"})

    assert (last.created, last.rejected, every.created) == (1, 2, 3)
    assert rejected_messages(last) == [
        "visdial_1.0_val.json dialog 2: dialog of image 284024 has no answered round",
        "visdial_1.0_val.json dialog 3: no image file for image_id 1",
    ]
    sample = Sample.objects.get(split="val")
    assert sample.source_id == "185565-3"
    assert sample.inputs == (
        "Caption: two people sit on a bench\nDialog history:\nQ: is it sunny\nA: yes\nQ: how many people\nA: 2\n"
        "Question: are they young"
    )
    assert sample.outputs == "no , they look old"
    assert sample.meta == {"source_dataset": "visdial", "image_id": 185565, "round": 3, "gt_index": 0}
    assert image_numbers(sample) == [5]
    assert Sample.objects.get(split="train", source_id="185565-1").inputs == (
        "Caption: two people sit on a bench\nQuestion: is it sunny"
    )


def test_multi30k_line_aligned_gz_files(import_root, tasks):
    folder = import_root / "multi30k" / "data" / "task1"
    (folder / "image_splits").mkdir(parents=True)
    (folder / "raw").mkdir()
    (folder / "image_splits" / "val.txt").write_text("1018148011.jpg\n1029450589.jpg\n1029737941.jpg\n")
    with gzip.open(folder / "raw" / "val.en.gz", "wt", encoding="utf-8") as handle:
        handle.write("A group of people stand in the back of a truck.\nA girl plays.\nTwo dogs run.\n")
    with gzip.open(folder / "raw" / "val.de.gz", "wt", encoding="utf-8") as handle:
        handle.write("Eine Gruppe von Menschen steht im Hintergrund eines Lastwagens.\nEin Mädchen spielt.\n")
    for number, name in enumerate(["1018148011", "1029450589", "1029737941"], start=1):
        write_numbered(folder / "flickr30k-images" / f"{name}.jpg", number)

    outcome = run_import(
        "multi30k",
        "multi30k",
        "val",
        "multi30k/data/task1",
        files={"image_list": "image_splits/val.txt", "source": "raw/val.en.gz", "target": "raw/val.de.gz"},
    )

    assert (outcome.created, outcome.rejected) == (2, 1)
    assert rejected_messages(outcome) == ["image_splits/val.txt line 3: raw/val.de.gz ended before line 3"]
    sample = Sample.objects.get(source_id="1029450589.jpg-2")
    assert (sample.inputs, sample.outputs) == ("A girl plays.", "Ein Mädchen spielt.")
    assert sample.meta["target_language"] == "German" and sample.meta["line"] == 2
    assert image_numbers(sample) == [2]


def test_mmchat_dialog_with_its_images_in_order(import_root, tasks):
    folder = import_root / "mmchat"
    folder.mkdir()
    dialogs = [
        ["今天去看了樱花", "好漂亮啊，在哪里拍的？", "武汉大学"],  # noqa: RUF001 - Chinese punctuation
        ["分享一下我的猫", "太可爱了"],
        ["只有一句"],
        ["图片都没下载", "是啊"],
    ]
    urls = [
        "https://wx1.sinaimg.cn/large/006a.jpg;https://wx2.sinaimg.cn/large/006b.jpg;https://wx3.sinaimg.cn/large/006x.jpg",
        "https://wx4.sinaimg.cn/large/007c.jpg",
        "https://wx4.sinaimg.cn/large/008d.jpg",
        "https://wx4.sinaimg.cn/large/009e.jpg",
    ]
    (folder / "dialog_dev.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in dialogs))
    (folder / "img_url_dev.jsonl").write_text("".join(u + "\n" for u in urls))
    (folder / "weibo_dev.jsonl").write_text("".join(json.dumps("分享图片", ensure_ascii=False) + "\n" for _ in dialogs))
    write_numbered(folder / "images" / "006b.jpg", 2)
    write_numbered(folder / "images" / "006a.jpg", 1)
    write_numbered(folder / "images" / "007c.jpg", 3)
    write_numbered(folder / "images" / "008d.jpg", 4)
    files = {"dialogs": "dialog_dev.jsonl", "image_urls": "img_url_dev.jsonl", "posts": "weibo_dev.jsonl"}

    outcome = run_import("mmchat", "mmchat", "val", "mmchat", files=files)

    assert (outcome.created, outcome.rejected) == (2, 2)
    assert rejected_messages(outcome) == [
        "dialog_dev.jsonl line 3: a dialog must be a JSON list of at least two utterances",
        "dialog_dev.jsonl line 4: none of the dialog's 1 images is in the images folder",
    ]
    sample = Sample.objects.get(source_id="val-1")
    assert sample.inputs == "今天去看了樱花\n好漂亮啊，在哪里拍的？"  # noqa: RUF001 - Chinese punctuation
    assert sample.outputs == "武汉大学"
    assert image_numbers(sample) == [1, 2]  # URL order; the missing third image is left out
    assert sample.meta["images"] == ["006a.jpg", "006b.jpg"] and sample.meta["weibo_content"] == "分享图片"
    assert len(sample.meta["image_urls"]) == 3
