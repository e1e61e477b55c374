"""ROUGE-L on hand-made pairs; every expected value is worked out by hand in the comment beside it."""

from __future__ import annotations

import random

import pytest
from rouge_score import rouge_scorer

from training.evaluation.rouge import Scored, Tokenizer, per_group, per_task, rouge_l, tokenize

STOCK = rouge_scorer.RougeScorer(["rougeL"])
OURS = rouge_scorer.RougeScorer(["rougeL"], tokenizer=Tokenizer())


def stock(prediction: str, reference: str) -> float:
    return STOCK.score(reference, prediction)["rougeL"].fmeasure


def test_english() -> None:
    # pred: a black cat sits on the mat (7)   ref: the cat is sitting on a mat (7)
    # LCS = cat, on, mat = 3 -> P = R = 3/7 -> F = 3/7
    pred, ref = "A black cat sits on the mat.", "The cat is sitting on a mat"
    assert rouge_l(pred, ref) == pytest.approx(3 / 7)
    assert stock(pred, ref) == pytest.approx(3 / 7)  # stock agrees on plain English


def test_chinese_per_character_where_stock_gives_zero() -> None:
    # 一只猫在桌子上 vs 一只狗在桌子上: 7 characters each, LCS 6 (all but 猫/狗) -> F = 6/7
    assert rouge_l("一只猫在桌子上", "一只狗在桌子上") == pytest.approx(6 / 7)
    # pred 猫在桌子上 (5) vs ref 一只猫坐在桌子上面 (9): LCS 5 -> P = 1, R = 5/9, F = 2*(5/9)/(14/9) = 10/14
    assert rouge_l("猫在桌子上。", "一只猫坐在桌子上面") == pytest.approx(10 / 14)
    assert rouge_l("一只猫在桌子上", "一只猫在桌子上") == 1.0
    # the stock tokenizer drops every Han character: zero, even for identical strings
    assert stock("一只猫在桌子上", "一只猫在桌子上") == 0.0
    assert stock("一只猫在桌子上", "一只狗在桌子上") == 0.0


def test_mixed_chinese_and_latin() -> None:
    # pred: 我 喜 欢 python 编 程 (6)   ref: 我 爱 python 编 程 (5, the full-width "!" stripped)
    # LCS = 我 python 编 程 = 4 -> P = 4/6, R = 4/5, F = 2*(2/3)*(4/5)/(2/3+4/5) = 16/22
    assert tokenize("我喜欢Python编程") == ["我", "喜", "欢", "python", "编", "程"]
    assert rouge_l("我喜欢Python编程", "我爱 Python 编程\uff01") == pytest.approx(16 / 22)
    # stock sees only "python" on both sides and calls it a perfect match
    assert stock("我喜欢Python编程", "我爱 Python 编程\uff01") == 1.0


def test_diacritics_kept_and_punctuation_stripped() -> None:
    assert tokenize("Hôm nay trời đẹp!") == ["hôm", "nay", "trời", "đẹp"]
    # 4 tokens vs 5 (rất added): LCS 4 -> P = 1, R = 4/5 -> F = 8/9
    assert rouge_l("Hôm nay trời đẹp", "hôm nay trời rất đẹp.") == pytest.approx(8 / 9)
    assert tokenize("(B) clock, yes.") == ["b", "clock", "yes"]
    assert tokenize("\uff34\uff57\uff4f \uff12") == ["two", "2"]  # full-width forms folded by NFKC


def test_other_scripts() -> None:
    assert tokenize("हिन्दी भाषा") == ["हिन्दी", "भाषा"]  # vowel signs and virama stay in the word
    assert tokenize("한국어 문장입니다") == ["한국어", "문장입니다"]  # Korean: words, as written
    assert tokenize("カタカナ漢字") == ["カ", "タ", "カ", "ナ", "漢", "字"]
    thai = tokenize("ไก่")  # one syllable: leading vowel, then ก with its tone mark as one cluster
    assert thai == ["ไ", "ก่"]


def test_empty_sides_score_zero() -> None:
    assert rouge_l("", "a cat") == 0.0
    assert rouge_l("a cat", "...") == 0.0


def test_same_as_rouge_score_with_our_tokenizer_on_random_pairs() -> None:
    rng = random.Random(7)
    words = ["cat", "dog", "猫", "狗", "在", "the", "a", "mat", "đẹp", "上"]
    for _ in range(300):
        pred = " ".join(rng.choices(words, k=rng.randint(0, 12)))
        ref = " ".join(rng.choices(words, k=rng.randint(0, 12)))
        assert rouge_l(pred, ref) == pytest.approx(OURS.score(ref, pred)["rougeL"].fmeasure)


def test_means_per_task_and_per_group() -> None:
    scores = [Scored("okvqa", 1.0), Scored("okvqa", 0.5), Scored("a-okvqa", 0.25), Scored("coco", 0.2)]
    tasks = per_task(scores)
    assert tasks == {"a-okvqa": 0.25, "coco": 0.2, "okvqa": 0.75}
    # macro over tasks: kvqa = (0.75 + 0.25) / 2, not the mean of the three records
    assert per_group(tasks, {"okvqa": "kvqa", "a-okvqa": "kvqa", "coco": "captioning"}) == {
        "captioning": 0.2,
        "kvqa": 0.5,
    }
