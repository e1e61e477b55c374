"""ROUGE-L F-measure that reads every script.

The stock rouge-score tokenizer lowercases and keeps only [a-z0-9], so Chinese scores 0 even for
identical strings and accented Latin is cut into pieces. Here, after NFKC (full-width forms become
ASCII) and lowercasing, a text is split into:

- one token per character for Han, Hiragana and Katakana: Chinese and Japanese are written without
  spaces and a word segmenter would make the score depend on its dictionary; per-character is the
  usual choice for Chinese ROUGE and needs no model;
- one token per grapheme cluster (a base letter with its combining vowel and tone marks) for Thai,
  Lao, Khmer, Myanmar and Tibetan, which are unsegmented too but whose code points are not units a
  reader sees: a bare tone mark matching another syllable's tone mark is not a match;
- words for everything else, Latin, Cyrillic, Greek, Arabic, Devanagari and Hangul (Korean puts
  spaces between words) included: runs of letters, combining marks and digits, so diacritics and
  Indic vowel signs stay inside their word and punctuation separates.

The LCS is rapidfuzz's (C++, on sequences of tokens); the F-measure is rouge-score's:
P = lcs/len(prediction), R = lcs/len(reference), F = 2PR/(P+R), 0 when either side is empty.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import regex
from rapidfuzz.distance import LCSseq

_PER_CHAR = r"\p{Han}\p{Hiragana}\p{Katakana}"
_CLUSTERED = r"\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}"
TOKEN = regex.compile(
    rf"[{_PER_CHAR}]"  # one CJK character
    rf"|(?=[{_CLUSTERED}])\X"  # one grapheme cluster (UAX #29) of an unsegmented script
    rf"|[[\p{{L}}\p{{M}}\p{{N}}]--[{_PER_CHAR}{_CLUSTERED}]]+",  # a word
    regex.V1,
)


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


class Tokenizer:
    """For `rouge_score.rouge_scorer.RougeScorer(["rougeL"], tokenizer=Tokenizer())`."""

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text)


def f_measure(lcs: int, n_prediction: int, n_reference: int) -> float:
    if not lcs or not n_prediction or not n_reference:
        return 0.0
    precision, recall = lcs / n_prediction, lcs / n_reference
    return 2 * precision * recall / (precision + recall)


def rouge_l_tokens(prediction: list[str], reference: list[str]) -> float:
    if not prediction or not reference:
        return 0.0
    return f_measure(LCSseq.similarity(prediction, reference), len(prediction), len(reference))


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure of one prediction against one reference, in [0, 1]."""
    return rouge_l_tokens(tokenize(prediction), tokenize(reference))


@dataclass(frozen=True)
class Scored:
    task: str
    score: float


def mean(values: Iterable[float]) -> float | None:
    total = count = 0
    for value in values:
        total += value
        count += 1
    return total / count if count else None


def per_task(scores: Iterable[Scored]) -> dict[str, float]:
    """Mean F per task (the paper's number for a task, times 100)."""
    by_task: dict[str, list[float]] = defaultdict(list)
    for item in scores:
        by_task[item.task].append(item.score)
    return {task: sum(v) / len(v) for task, v in sorted(by_task.items())}


def per_group(task_means: Mapping[str, float], groups: Mapping[str, str]) -> dict[str, float]:
    """Mean of the task means per group (macro: every task weighs the same, whatever its size).

    `groups` maps task slug -> group (from an export's manifest or the M3IT registry file); a task
    with no group is counted under "other".
    """
    by_group: dict[str, list[float]] = defaultdict(list)
    for task, value in task_means.items():
        by_group[groups.get(task, "other")].append(value)
    return {group: sum(v) / len(v) for group, v in sorted(by_group.items())}
