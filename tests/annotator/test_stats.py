"""Table 2 statistics on a small fixture pool, against numbers worked out by hand."""

from __future__ import annotations

import math
import statistics

import pytest

from annotator import stats
from annotator.stats import Item, PoolEntry

# Task A (vqa, en): "a b", "a b c", "x b c"    tokens 2, 3, 3
# Task B (vqa, en): "a", "b d"                  tokens 1, 2
# Task C (chinese, zh): "图片"                   tokens 2 (characters)
ITEMS = [
    Item("A", "vqa", "en", "a b"),
    Item("A", "vqa", "en", "a b c"),
    Item("A", "vqa", "en", "x b c"),
    Item("B", "vqa", "en", "a"),
    Item("B", "vqa", "en", "b d"),
    Item("C", "chinese", "zh", "图片"),
]
# Levenshtein distances, worked out by hand:
# within A: "a b"/"a b c" = 2 (insert " c"), "a b"/"x b c" = 3 (a→x, insert " c"), "a b c"/"x b c" = 1
WITHIN_A = [2, 3, 1]
# within B: "a"/"b d" = 3 (a→b, insert " d")
WITHIN_B = [3]
# AxB: a1-b1 2, a1-b2 2 (a→b, b→d), a2-b1 4, a2-b2 3, a3-b1 5 (no "a" in "x b c"), a3-b2 3
A_X_B = [2, 2, 4, 3, 5, 3]
# AxC: no character in common, so the longer length: 3, 5, 5
A_X_C = [3, 5, 5]
# BxC: 2, 3
B_X_C = [2, 3]


def close(actual: float | None, expected: float) -> bool:
    return actual is not None and math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("block_rows", [256, 1, 2, 4])
def test_report_matches_hand_computed_values(block_rows):
    report = stats.instruction_report(ITEMS, block_rows=block_rows)

    # overall: tokens 2,3,3,1,2,2 → mean 13/6; sum of squares 31 → var (31 - 169/6)/5
    assert report.overall.instructions == 6
    assert close(report.overall.tokens.mean, 13 / 6)
    assert close(report.overall.tokens.sd, math.sqrt((31 - 169 / 6) / 5))
    # within: 2,3,1,3 → mean 2.25, sd sqrt((23 - 20.25)/3)
    assert report.overall.within.n == 4
    assert close(report.overall.within.mean, 2.25)
    assert close(report.overall.within.sd, math.sqrt(2.75 / 3))
    # across: 11 pairs summing to 37, squares summing to 139
    assert report.overall.across.n == 11
    assert close(report.overall.across.mean, 37 / 11)
    assert close(report.overall.across.sd, math.sqrt((139 - 37 * 37 / 11) / 10))

    tasks = {row.key: row for row in report.tasks}
    assert close(tasks["A"].tokens.mean, 8 / 3)
    assert close(tasks["A"].within.mean, 2.0) and close(tasks["A"].within.sd, 1.0)
    assert tasks["B"].within.n == 1 and close(tasks["B"].within.mean, 3.0) and tasks["B"].within.sd is None
    assert tasks["C"].within.n == 0 and tasks["C"].within.mean is None
    assert close(tasks["A"].across.mean, statistics.mean(A_X_B + A_X_C))
    assert close(tasks["B"].across.mean, statistics.mean(A_X_B + B_X_C))
    assert close(tasks["C"].across.sd, statistics.stdev(A_X_C + B_X_C))

    groups = {row.key: row for row in report.groups}
    # vqa holds A and B: its across pairs are AxB (once, not twice), AxC and BxC → all 11 pairs.
    assert groups["vqa"].instructions == 5
    assert groups["vqa"].within.n == len(WITHIN_A + WITHIN_B)
    assert close(groups["vqa"].within.mean, statistics.mean(WITHIN_A + WITHIN_B))
    assert groups["vqa"].across.n == 11
    assert close(groups["vqa"].across.mean, 37 / 11)
    assert groups["chinese"].across.n == 5
    assert close(groups["chinese"].across.mean, 18 / 5)
    assert close(groups["chinese"].tokens.mean, 2.0)


def test_tokens_are_words_or_characters_by_language():
    assert stats.count_tokens("Describe  the image\nbriefly.", "en") == 4
    assert stats.count_tokens("请 描述这张图片。", "zh") == 8
    assert stats.count_tokens("この画像を説明して", "ja") == 9


def test_live_stats_with_a_draft_and_its_warnings():
    pool = [PoolEntry(1, "Describe the image.", 11), PoolEntry(2, "What is shown here?", 12)]
    live = stats.live_stats(pool, "en", draft="Describe the image!")
    # the pool as it would be: tokens 3, 4, 3; the count is what is saved
    assert live["count"] == 2 and live["count_with_draft"] == 3
    assert close(live["tokens"]["mean"], round(10 / 3, 2))
    assert live["draft"]["tokens"] == 3
    near = [w for w in live["draft"]["warnings"] if w["kind"] == "near-duplicate"]
    assert [w["number"] for w in near] == [1]
    # one character differs out of 19: similarity 18/19
    assert near[0]["similarity"] == round(18 / 19, 3)
    assert "#1" in near[0]["message"] and "Describe the image." in near[0]["message"]


def test_editing_replaces_the_instruction_in_the_pool_stats():
    pool = [PoolEntry(1, "ab", 1), PoolEntry(2, "abcd", 2)]
    live = stats.live_stats(pool, "en", draft="abc", editing=1)
    # pool becomes "abc", "abcd": one pair at distance 1
    assert live["count"] == 2 and live["count_with_draft"] == 2
    assert live["edit_distance"] == {"n": 1, "mean": 1.0, "sd": None}
    # compared with the others only ("abcd": 3/4 similar, under the threshold), not with its own old text
    assert live["draft"]["warnings"] == []


def test_live_count_is_what_is_saved_and_a_duplicate_draft_counts_nowhere():
    """Issue 15, item 19: a draft (even a duplicate) was counted as an instruction while the title said 0/10."""
    assert stats.live_stats([], "en", draft="Describe the image.")["count"] == 0
    pool = [PoolEntry(1, "Describe the image.", 11)]
    live = stats.live_stats(pool, "en", draft="describe  the image.")
    assert [w["kind"] for w in live["draft"]["warnings"]] == ["duplicate"]
    assert live["count"] == 1 and live["count_with_draft"] == 1 and live["tokens"]["n"] == 1


def test_chinese_task_warns_about_a_non_chinese_instruction():
    english = stats.draft_warnings("Describe the picture.", [], "zh")
    chinese = stats.draft_warnings("请描述这张图片。", [], "zh")
    assert [w["kind"] for w in english] == ["language"]
    assert "Chinese" in english[0]["message"]
    assert chinese == []
    assert stats.draft_warnings("Describe the picture.", [], "en") == []
