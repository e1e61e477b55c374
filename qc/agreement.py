"""Agreement between two reviewers who judged the same samples: percent agreement and Cohen's kappa.

Written out here (a dozen lines) rather than pulling in scikit-learn for one function.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Agreement:
    n: int
    percent: float | None
    kappa: float | None


def percent_agreement(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Share of paired labels that are equal, in percent; None when there is nothing to compare."""
    if len(a) != len(b):
        raise ValueError("both reviewers must label the same items")
    if not a:
        return None
    return 100.0 * sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def cohens_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa: (p_o - p_e) / (1 - p_e), p_e from each reviewer's own label frequencies.

    When both reviewers used one and the same label throughout, p_e = 1 and kappa is undefined;
    we return 1.0 then (perfect agreement), as is usual in annotation tools.
    """
    if len(a) != len(b):
        raise ValueError("both reviewers must label the same items")
    n = len(a)
    if not n:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[label] * count_b[label] for label in count_a.keys() | count_b.keys()) / (n * n)
    if expected == 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)


def agreement(verdicts_a: Mapping[int, str], verdicts_b: Mapping[int, str]) -> Agreement:
    """Agreement on the samples both reviewers decided (sample id -> verdict; undecided ones left out)."""
    shared = sorted(verdicts_a.keys() & verdicts_b.keys())
    a = [verdicts_a[s] for s in shared]
    b = [verdicts_b[s] for s in shared]
    return Agreement(n=len(shared), percent=percent_agreement(a, b), kappa=cohens_kappa(a, b))
