"""A reviewer QCs a split with the keyboard only: ten samples, one corrected, and the split is approved."""

from __future__ import annotations

import os

import pytest

from annotator.models import QCStatus, TaskSplit
from pipeline.models import Sample, SampleQCState
from qc.models import AuditAction, AuditEvent, Review, SampleRevision
from tests.e2e.conftest import login
from tests.qc.conftest import make_split

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("QC_SCREENSHOTS")  # a folder: save screenshots of the pages to look at


def shot(page: object, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def test_reviewer_reviews_a_split_with_the_keyboard_and_it_is_approved(page):
    s = make_split(14)
    login(page, s.reviewer.username)
    page.goto("/qc/")
    shot(page, "queue")
    page.click("#waiting button[type=submit]")  # the one click: start the review from the queue
    page.wait_for_selector(".review-item.current")
    review = Review.objects.get(task_split=s.split)
    assert page.locator("#progress-text").inner_text() == "0/10"
    shot(page, "review-start")

    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    shot(page, "review-help")
    page.keyboard.press("Escape")
    assert not page.locator("#help").is_visible()

    # j/k move without deciding
    page.keyboard.press("j")
    assert page.locator(".review-item.current .counter").inner_text() == "Sample 2 of 10"
    page.keyboard.press("k")
    assert page.locator(".review-item.current .counter").inner_text() == "Sample 1 of 10"

    for done in range(1, 4):
        page.keyboard.press("a")
        page.wait_for_function(f"document.getElementById('progress-text').textContent === '{done}/10'")
    assert page.locator(".review-item.current .counter").inner_text() == "Sample 4 of 10"

    # correct the fourth sample's output in place, keyboard only
    page.keyboard.press("e")
    outputs = page.locator(".review-item.current textarea[name=outputs]")
    assert outputs.evaluate("el => el === document.activeElement")
    page.keyboard.press("Control+a")
    page.keyboard.type("The square is dark red.")
    shot(page, "review-edit")
    page.keyboard.press("Control+Enter")
    page.wait_for_function("document.getElementById('progress-text').textContent === '4/10'")
    corrected_sample = review.items.get(position=3).sample_id

    for done in range(5, 10):
        page.keyboard.press("a")
        page.wait_for_function(f"document.getElementById('progress-text').textContent === '{done}/10'")
    split = TaskSplit.objects.get(pk=s.split.pk)
    assert split.qc_status == QCStatus.IN_REVIEW  # nine decided, one pending: not approved
    shot(page, "review-nine")

    page.keyboard.press("a")
    page.wait_for_function("document.getElementById('progress-text').textContent === '10/10'")
    page.wait_for_selector("#submit-panel:not([hidden])")
    split.refresh_from_db()
    assert split.qc_status == QCStatus.IN_REVIEW  # the tenth `a` is not final: submit is a step of its own

    # u takes back the last decision; deciding again and s submits
    page.keyboard.press("u")
    page.wait_for_function("document.getElementById('progress-text').textContent === '9/10'")
    assert page.locator("#submit-panel").is_hidden()
    assert page.locator(".review-item.current .counter").inner_text() == "Sample 10 of 10"
    assert review.items.get(position=9).verdict == "pending"
    page.keyboard.press("a")
    page.wait_for_selector("#submit-panel:not([hidden])")
    shot(page, "review-submit")
    page.keyboard.press("s")
    page.wait_for_selector("#review-outcome")
    assert "approved for export" in page.locator("#review-outcome").inner_text()
    summary = page.locator("#review-summary").inner_text()
    assert "9 approved · 1 corrected · 0 rejected" in summary and "Nothing else waits for you" in summary
    shot(page, "review-approved")

    split.refresh_from_db()
    assert split.qc_status == QCStatus.APPROVED and split.approved_by == s.reviewer
    sample = Sample.objects.get(pk=corrected_sample)
    assert sample.outputs == "The square is dark red." and sample.qc_state == SampleQCState.CORRECTED
    assert SampleRevision.objects.get(sample=sample).after == {"outputs": "The square is dark red."}
    assert AuditEvent.objects.filter(review=review, action=AuditAction.APPROVE).count() == 10  # one undone
    assert AuditEvent.objects.filter(review=review, action=AuditAction.UNDO).count() == 1
    assert AuditEvent.objects.filter(review=review, action=AuditAction.SPLIT_APPROVED).count() == 1


def test_reviewer_rejects_with_tags_by_keyboard(page):
    from pipeline.media.images import store_image
    from pipeline.models import SampleImage
    from tests.factories import png_bytes

    s = make_split(3, modality="video")
    for sample in s.samples:  # video samples: 8 frames each, shown as a strip
        for position in range(1, 8):
            frame = store_image(png_bytes((position * 30, 60, sample.pk % 256), size=(64, 48)))
            SampleImage.objects.create(sample=sample, image=frame, position=position)
    login(page, s.reviewer.username)
    page.goto("/qc/")
    page.click("#waiting button[type=submit]")
    page.wait_for_selector(".review-item.current")
    assert page.locator(".review-item.current .strip img.frame").count() == 8
    shot(page, "review-video")
    page.keyboard.press("r")
    page.keyboard.press("3")  # outputs
    page.keyboard.press("4")  # image
    page.keyboard.press("c")
    page.keyboard.type("Answer does not match the <b>image</b>")
    shot(page, "review-reject")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('progress-text').textContent === '1/3'")
    # a rejection without a comment is refused and says why
    page.keyboard.press("r")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_selector("#flash:not([hidden])")
    assert "needs a comment" in page.locator("#flash").inner_text()
    assert page.locator("#progress-text").inner_text() == "1/3"
    item = Review.objects.get(task_split=s.split).items.get(position=0)
    assert item.verdict == "rejected" and item.problems == ["image", "outputs"]
    assert item.comment == "Answer does not match the <b>image</b>"


def test_admin_sees_the_dashboard_and_asks_for_a_second_reviewer(page):
    from qc import review as qc_review
    from tests.factories import AdminFactory, ReviewerFactory

    admin = AdminFactory()
    approved = make_split(10)
    rev = qc_review.start_review(approved.split, approved.reviewer)
    for item in rev.items.all():
        qc_review.decide(item, approved.reviewer, "approved")
    rejected = make_split(10)
    rev = qc_review.start_review(rejected.split, rejected.reviewer)
    for index, item in enumerate(rev.items.order_by("position")):
        if index < 8:
            qc_review.decide(item, rejected.reviewer, "approved")
        else:
            qc_review.decide(item, rejected.reviewer, "rejected", problems=["outputs"], comment="too short")
    second = ReviewerFactory()

    login(page, admin.username)
    page.goto("/qc/dashboard/")
    assert page.locator("#qc-matrix a.badge.approved").count() == 1
    assert page.locator("#qc-matrix a.badge.rejected").count() == 1
    assert "outputs 2" in page.locator("#qc-matrix").inner_text()
    shot(page, "dashboard")

    page.locator("#qc-matrix a.badge.approved").click()
    page.select_option("select[name=reviewer]", label=second.username)
    page.click("text=Request")
    assert "will review the same samples" in page.locator(".messages").inner_text()
    shot(page, "split-history")
    assert (
        Review.objects.get(reviewer=second).sample_ids
        == Review.objects.get(task_split=approved.split, role="primary").sample_ids
    )

    page.goto("/qc/reviewers/")
    assert page.locator("#reviewer-table tbody tr").count() == 3
    shot(page, "reviewers")
