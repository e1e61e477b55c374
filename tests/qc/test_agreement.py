"""Percent agreement and Cohen's kappa on hand-made cases, worked out by hand in each test."""

from __future__ import annotations

import pytest

from qc import review
from qc.agreement import agreement, cohens_kappa, percent_agreement
from qc.dashboard import dashboard
from qc.models import Verdict
from tests.factories import ReviewerFactory
from tests.qc.conftest import make_split


def test_two_labels():
    # 10 items: both ok on 6, both problem on 2, A ok/B problem on 1, A problem/B ok on 1.
    a = ["ok"] * 6 + ["problem"] * 2 + ["ok"] + ["problem"]
    b = ["ok"] * 6 + ["problem"] * 2 + ["problem"] + ["ok"]
    # p_o = 8/10; A and B each say ok 7 times, problem 3 times: p_e = 0.7*0.7 + 0.3*0.3 = 0.58
    assert percent_agreement(a, b) == pytest.approx(80.0)
    assert cohens_kappa(a, b) == pytest.approx((0.8 - 0.58) / (1 - 0.58))  # 0.5238


def test_three_labels_uneven_marginals():
    a = ["x", "x", "y", "z", "z", "x"]
    b = ["x", "y", "y", "z", "x", "x"]
    # agree on items 0, 2, 3, 5: p_o = 4/6. A: x3 y1 z2; B: x3 y2 z1.
    # p_e = (3*3 + 1*2 + 2*1) / 36 = 13/36
    p_o, p_e = 4 / 6, 13 / 36
    assert percent_agreement(a, b) == pytest.approx(100 * 4 / 6)
    assert cohens_kappa(a, b) == pytest.approx((p_o - p_e) / (1 - p_e))


def test_worse_than_chance_is_negative_and_edge_cases():
    assert cohens_kappa(["ok", "problem"], ["problem", "ok"]) == pytest.approx((0 - 0.5) / (1 - 0.5))
    assert cohens_kappa(["ok"] * 4, ["ok"] * 4) == 1.0
    assert cohens_kappa([], []) is None and percent_agreement([], []) is None
    with pytest.raises(ValueError):
        cohens_kappa(["ok"], [])


def test_agreement_pairs_by_sample_and_skips_undecided():
    result = agreement({1: "ok", 2: "problem", 3: "ok"}, {2: "problem", 3: "problem", 4: "ok"})
    # shared: samples 2 and 3 -> agree on 1 of 2; A: problem 1, ok 1; B: problem 2 -> p_e = (1*2 + 1*0)/4 = 0.5
    assert result.n == 2 and result.percent == pytest.approx(50.0)
    assert result.kappa == pytest.approx((0.5 - 0.5) / (1 - 0.5))


@pytest.mark.django_db
def test_dashboard_shows_agreement_between_two_reviewers():
    s = make_split(10)
    first = review.start_review(s.split, s.reviewer)
    other = ReviewerFactory()
    second = review.request_second_review(s.split, s.reviewer, other)
    first_items = list(first.items.order_by("position"))
    second_items = list(second.items.order_by("position"))
    # first: positions 0-7 approved, 8 corrected (a problem), 9 rejected
    # second: positions 0-6 approved, 7 rejected, 8 rejected, 9 approved
    for item in first_items[:8]:
        review.decide(item, s.reviewer, Verdict.APPROVED)
    review.correct(first_items[8], s.reviewer, outputs="fixed answer")
    review.decide(first_items[9], s.reviewer, Verdict.REJECTED, problems=["image"], comment="blurred")
    for item in second_items[:7]:
        review.decide(item, other, Verdict.APPROVED)
    for item in second_items[7:9]:
        review.decide(item, other, Verdict.REJECTED, problems=["outputs"], comment="short")
    review.decide(second_items[9], other, Verdict.APPROVED)
    # labels ok/problem: A = ok*8, problem*2; B = ok*7, problem, problem, ok.
    # agree on 0-6 (ok) and 8 (problem) = 8/10; p_e = 0.8*0.8 + 0.2*0.2 = 0.68
    cell = dashboard()["rows"][0].cells[0]
    assert cell.agreement.n == 10
    assert cell.agreement.percent == pytest.approx(80.0)
    assert cell.agreement.kappa == pytest.approx((0.8 - 0.68) / (1 - 0.68))
    assert cell.tags["outputs"] == 1 and cell.tags["image"] == 1  # primary reviews only: the correction's tag
