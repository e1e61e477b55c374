"""People are told that work waits for them (issue 15, item 13): the home page and the QC queue list the
same reviews, the navigation carries counts, and an annotator sees the splits QC sent back."""

from __future__ import annotations

import pytest

from qc import review
from tests.e2e.conftest import login
from tests.factories import ReviewerFactory
from tests.qc.conftest import make_split

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _nav_count(page, label: str) -> str:
    link = page.locator("header nav a", has_text=label)
    return link.locator(".nav-count").inner_text() if link.locator(".nav-count").count() else ""


def test_second_reviewer_home_and_queue_agree_with_counts_in_the_navigation(page):
    s = make_split(10)
    primary = review.start_review(s.split, s.reviewer)
    for item in primary.items.all():
        review.decide(item, s.reviewer, "approved")
    second = ReviewerFactory()
    second_review = review.request_second_review(s.split, s.reviewer, second)

    login(page, second.username)
    page.goto("/")
    home_rows = page.locator("#home-open-reviews tr td:first-child").all_inner_texts()
    assert len(home_rows) == 1 and s.task.slug in home_rows[0]
    assert "Second reviewer" in page.locator("#home-open-reviews").inner_text()
    assert _nav_count(page, "Review") == "1"
    page.click("#home-open-reviews a.button")
    page.wait_for_url(f"**/qc/reviews/{second_review.pk}/**")

    page.goto("/qc/")
    queue_rows = page.locator("#open-reviews tbody tr").count()
    assert queue_rows == len(home_rows)
    assert _nav_count(page, "Review") == "1"


def test_annotator_sees_the_split_qc_sent_back_on_home_and_in_the_navigation(page):
    s = make_split(10)
    rev = review.start_review(s.split, s.reviewer)
    items = list(rev.items.order_by("position"))
    for item in items[:9]:
        review.decide(item, s.reviewer, "approved")
    review.decide(items[9], s.reviewer, "rejected", problems=["outputs"], comment="The answer is one word.")

    login(page, s.writer.username)
    page.goto("/")
    section = page.locator("#my-sent-back").inner_text()
    assert str(s.split) in section and "The answer is one word." in section
    assert _nav_count(page, "Sent back by QC") == "1"
    page.click(f"#my-sent-back a:has-text('{s.split}')")
    page.wait_for_url(f"**/qc/splits/{s.split.pk}/")

    # the reviewer's home page and queue both show the sent-back split as waiting for a re-review
    page.context.clear_cookies()
    login(page, s.reviewer.username)
    page.goto("/")
    assert str(s.task.slug) in page.locator("#home-waiting").inner_text()
    assert _nav_count(page, "Review") == "1"
