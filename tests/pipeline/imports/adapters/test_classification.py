"""e-SNLI-VE, MOCHEG, KonIQ-10k, Winoground, ChineseFoodNet and Something-Something v2 as published."""

from __future__ import annotations

import json

import pytest

from pipeline.imports.adapters.base import LETTERS
from pipeline.models import Sample
from tests.pipeline.imports.adapters.sources import (
    image_numbers,
    rejected_messages,
    run_import,
    write_numbered,
    write_webm,
)

pytestmark = pytest.mark.django_db


def test_snli_ve_rows_give_the_label_word(import_root, tasks):
    folder = import_root / "esnlive"
    folder.mkdir()
    # e-ViL's CSVs start with pandas' unnamed index column.
    (folder / "esnlive_dev.csv").write_text(
        ",Flickr30kID,hypothesis,gold_label,explanation\n"
        '0,1000092795.jpg,"Two men are outside.",entailment,they stand in a garden\n'
        "1,1000092795.jpg,The men are asleep.,contradiction,they are talking\n"
        "2,10002456.jpg,A crowd waits for a bus.,neutral,nothing shows a bus\n"
        "3,10002456.jpg,Something.,maybe,\n"
        "4,999.jpg,No picture.,neutral,\n",
        encoding="utf-8",
    )
    write_numbered(folder / "flickr30k_images" / "1000092795.jpg", 1)
    write_numbered(folder / "flickr30k_images" / "10002456.jpg", 2)

    outcome = run_import("snli-ve", "snli-ve", "val", "esnlive", files={"pairs": "esnlive_dev.csv"})

    assert (outcome.created, outcome.rejected) == (3, 2)
    assert rejected_messages(outcome) == [
        "esnlive_dev.csv line 5: gold_label 'maybe' is not entailment, neutral, contradiction",
        "esnlive_dev.csv line 6: no image file for Flickr30kID 999.jpg",
    ]
    sample = Sample.objects.get(task__slug="snli-ve", source_id="1")
    assert (sample.inputs, sample.outputs) == ("The men are asleep.", "contradiction")
    assert sample.meta == {
        "source_dataset": "e-snli-ve",
        "flickr30k_id": "1000092795.jpg",
        "explanation": "they are talking",
    }
    assert image_numbers(sample) == [1]


def test_mocheg_claim_with_its_evidence_images_in_order(import_root, tasks):
    folder = import_root / "mocheg" / "train"
    folder.mkdir(parents=True)
    (folder / "Corpus2.csv").write_text(
        "claim_id,Snopes URL,Claim,cleaned_truthfulness,Evidence,evidence_id\n"
        "7,https://snopes.example/7,A photo shows a shark on a highway.,refuted,The image was edited.,7-0\n"
        "7,https://snopes.example/7,A photo shows a shark on a highway.,refuted,It first appeared in 2011.,7-1\n"
        "8,https://snopes.example/8,The bridge opened in 1937.,supported,Records confirm the date.,8-0\n"
        "9,https://snopes.example/9,Unclear claim.,NEI,Nothing found.,9-0\n"
        "10,https://snopes.example/10,Odd verdict.,mixture,Text.,10-0\n",
        encoding="utf-8",
    )
    (folder / "img_evidence_qrels.csv").write_text(
        "TOPIC,ITERATION,DOCUMENT#,RELEVANCY\n"
        "7,0,7-proof-2.jpg,1\n7,0,7-proof-1.jpg,1\n8,0,8-proof-1.jpg,1\n10,0,10-proof-1.jpg,1\n",
        encoding="utf-8",
    )
    write_numbered(folder / "images" / "7-proof-1.jpg", 71)
    write_numbered(folder / "images" / "7-proof-2.jpg", 72)
    write_numbered(folder / "images" / "8-proof-1.jpg", 81)
    write_numbered(folder / "images" / "10-proof-1.jpg", 101)

    outcome = run_import("mocheg", "mocheg", "train", "mocheg/train")
    texts = run_import("mocheg", "mocheg", "val", "mocheg/train", options={"text_evidence": True})

    assert (outcome.created, outcome.rejected) == (2, 2)
    assert rejected_messages(outcome) == [
        "Corpus2.csv line 5: claim 9: no evidence image in the qrels",
        "Corpus2.csv line 6: claim 10: verdict is not supported/refuted/NEI",
    ]
    shark = Sample.objects.get(split="train", source_id="7")
    assert (shark.inputs, shark.outputs) == ("Claim: A photo shows a shark on a highway.", "refuted")
    assert image_numbers(shark) == [72, 71]  # qrels order
    assert shark.meta["evidence_images"] == ["7-proof-2.jpg", "7-proof-1.jpg"]
    assert shark.meta["text_evidence"] == ["The image was edited.", "It first appeared in 2011."]
    assert Sample.objects.get(split="train", source_id="8").outputs == "supported"
    assert texts.created == 2
    assert Sample.objects.get(split="val", source_id="8").inputs == (
        "Claim: The bridge opened in 1937.\nEvidence: Records confirm the date."
    )


def test_koniq_mos_becomes_a_lettered_quality_level_per_set(import_root, tasks):
    folder = import_root / "koniq"
    folder.mkdir()
    (folder / "koniq10k_distributions_sets.csv").write_text(
        "image_name,c1,c2,c3,c4,c5,c_total,MOS,SD,set\n"
        "10004473376.jpg,0,0,25,73,7,105,3.819,0.6,training\n"
        "10007357496.jpg,60,30,10,0,0,100,1.45,0.7,training\n"
        "10008004183.jpg,0,0,0,10,90,100,4.9,0.3,validation\n"
        "10012551939.jpg,0,0,0,0,0,0,n/a,0,training\n",
        encoding="utf-8",
    )
    for number, name in enumerate(["10004473376", "10007357496", "10008004183", "10012551939"], start=1):
        write_numbered(folder / "1024x768" / f"{name}.jpg", number)

    train = run_import("koniq-iqa", "iqa", "train", "koniq")
    val = run_import("koniq-iqa", "iqa", "val", "koniq")

    assert (train.created, train.rejected, val.created) == (2, 1, 1)
    assert rejected_messages(train) == [
        "koniq10k_distributions_sets.csv line 5: MOS 'n/a' is not a number between 1 and 5"
    ]
    good = Sample.objects.get(split="train", source_id="10004473376.jpg")
    assert good.inputs == (
        "How is the quality of this image?\nOptions:\n(A) bad\n(B) poor\n(C) fair\n(D) good\n(E) excellent"
    )
    assert good.outputs == "(D) good" and good.meta["mos"] == pytest.approx(3.819)
    assert Sample.objects.get(split="train", source_id="10007357496.jpg").outputs == "(A) bad"
    assert Sample.objects.get(split="val").outputs == "(E) excellent"


def _winoground(folder):
    folder.mkdir(parents=True)
    records = [
        {
            "id": 0,
            "caption_0": "an old person kisses a young person",
            "caption_1": "a young person kisses an old person",
            "image_0": "ex_0_img_0",
            "image_1": "ex_0_img_1",
            "tag": "Noun",
            "secondary_tag": "",
            "num_main_preds": 1,
            "collapsed_tag": "Object",
        },
        {
            "id": 1,
            "caption_0": "the dog is on the mat",
            "caption_1": "the mat is on the dog",
            "image_0": "ex_1_img_0",
            "image_1": "ex_1_img_1",
            "tag": "Noun",
            "secondary_tag": "",
            "num_main_preds": 1,
            "collapsed_tag": "Object",
        },
    ]
    (folder / "examples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + "{not json\n")
    write_numbered(folder / "images" / "ex_0_img_0.png", 10)
    write_numbered(folder / "images" / "ex_0_img_1.png", 11)
    write_numbered(folder / "images" / "ex_1_img_0.png", 20)  # ex_1_img_1 is missing


def test_winoground_two_samples_per_example_in_both_modes(import_root, tasks):
    _winoground(import_root / "wino")

    by_image = run_import("winoground", "winoground", "test", "wino")
    by_caption = run_import("winoground", "winoground", "val", "wino", options={"mode": "caption"})

    assert (by_image.created, by_image.rejected, by_caption.created) == (2, 2, 2)
    assert rejected_messages(by_image) == [
        "examples.jsonl line 2: no image file for ex_1_img_1",
        "examples.jsonl line 3: not valid JSON (unexpected character, expected a string key at column 2)",
    ]
    second = Sample.objects.get(split="test", source_id="0-image1")
    assert second.inputs == (
        "Which caption describes the image?\nOptions:\n(A) an old person kisses a young person\n"
        "(B) a young person kisses an old person"
    )
    assert second.outputs == "(B) a young person kisses an old person" and image_numbers(second) == [11]
    pair = Sample.objects.get(split="val", source_id="0-caption0")
    assert pair.inputs.startswith("Caption: an old person kisses a young person\nWhich image does the caption")
    assert pair.outputs == "(A) the first image" and image_numbers(pair) == [10, 11]
    assert pair.meta["collapsed_tag"] == "Object" and pair.meta["example_id"] == 0


def test_chinese_food_folders_with_chinese_labels(import_root, tasks):
    folder = import_root / "cfn"
    names = {"000": "麻婆豆腐", "001": "宫保鸡丁", "002": "北京烤鸭", "003": "小笼包"}
    for index, dish in enumerate(names):
        write_numbered(folder / "test" / dish / f"{dish}001.jpg", index)
    (folder / "class_names.txt").write_text("".join(f"{k} {v}\n" for k, v in names.items()), encoding="utf-8")

    outcome = run_import("chinese-food", "chinese-food", "test", "cfn", options={"num_options": 3})

    assert outcome.created == 4
    sample = Sample.objects.get(source_id="001/001001.jpg")
    lines = sample.inputs.split("\n")
    assert lines[0] == "图片中的食物是什么？"  # noqa: RUF001 - the Chinese question
    assert len(lines[2:]) == 3 and "宫保鸡丁" in sample.outputs
    gold = [line for line in lines[2:] if line.endswith("宫保鸡丁")]
    assert gold == [sample.outputs] and sample.outputs[1] in LETTERS[:3]
    assert sample.meta["source_dataset"] == "chinesefoodnet"


def test_something_something_numbered_options_and_webm_frames(import_root, tasks):
    folder = import_root / "ssv2"
    folder.mkdir()
    labels = {
        "Holding something next to something": "0",
        "Pushing something from left to right": "1",
        "Dropping something onto something": "2",
    }
    (folder / "something-something-v2-labels.json").write_text(json.dumps(labels))
    (folder / "something-something-v2-validation.json").write_text(
        json.dumps(
            [
                {
                    "id": "74225",
                    "label": "holding potato next to vicks vaporub bottle",
                    "template": "Holding [something] next to [something]",
                    "placeholders": ["potato", "vicks bottle"],
                },
                {
                    "id": "116154",
                    "label": "pushing a pen from left to right",
                    "template": "Pushing [something] from left to right",
                    "placeholders": ["a pen"],
                },
                {"id": "999", "label": "lost", "template": "Dropping [something] onto [something]", "placeholders": []},
                {"id": "1000"},
            ]
        )
    )
    write_webm(folder / "20bn-something-something-v2" / "74225.webm")
    write_webm(folder / "20bn-something-something-v2" / "116154.webm")

    outcome = run_import(
        "something-something",
        "ss",
        "val",
        "ssv2",
        files={"annotations": "something-something-v2-validation.json"},
        options={"num_options": 0},
    )

    assert (outcome.created, outcome.rejected) == (2, 2)
    assert rejected_messages(outcome) == [
        "something-something-v2-validation.json item 3: no video file 999",
        "something-something-v2-validation.json item 4: missing field(s): template (the test list carries no template)",
    ]
    sample = Sample.objects.get(source_id="74225")
    assert sample.inputs == (
        "What action is performed in the video?\nOptions:\n1. Dropping something onto something\n"
        "2. Holding something next to something\n3. Pushing something from left to right"
    )
    assert sample.outputs == "2. Holding something next to something"
    assert sample.meta["class_index"] == "0" and sample.meta["placeholders"] == ["potato", "vicks bottle"]
    assert sample.sample_images.count() == 8
