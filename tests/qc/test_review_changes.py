"""What happens when things change under an open review: a load check run again outside any test
transaction, a reassigned reviewer, content that changes during the review, and the reviewer's queue."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from annotator.models import QCStatus, TaskSplit
from home.dashboard import review_work
from pipeline.models import Sample
from qc import review
from qc.access import waiting_splits
from qc.models import AuditAction, AuditEvent, Review, ReviewStatus, Verdict
from tests.factories import ReviewerFactory
from tests.qc.conftest import make_split

pytestmark = pytest.mark.django_db


def _all_decided_with_a_failing_load_check() -> tuple[object, Review]:
    """Ten samples approved, but one has empty outputs: the review stays open until the load check passes."""
    s = make_split(10)
    Sample.objects.filter(pk=s.samples[3].pk).update(outputs="")
    rev = review.start_review(s.split, s.reviewer)
    for item in rev.items.order_by("position"):
        review.decide(item, s.reviewer, Verdict.APPROVED)
    rev.refresh_from_db()
    s.split.refresh_from_db()
    assert rev.status == ReviewStatus.OPEN and s.split.qc_status == QCStatus.IN_REVIEW
    Sample.objects.filter(pk=s.samples[3].pk).update(outputs="blue")  # fixed elsewhere
    return s, rev


# --- 1. the load check button outside a test transaction (select_for_update needs one on PostgreSQL) -------


@pytest.mark.django_db(transaction=True)
def test_running_the_load_check_again_on_the_web_then_submitting_approves_the_fixed_split(client):
    s, rev = _all_decided_with_a_failing_load_check()
    client.force_login(s.reviewer)
    response = client.post(reverse("review-load-check", args=[rev.pk]))
    assert response.status_code == 302
    rev.refresh_from_db()
    assert rev.load_check["ok"] and rev.status == ReviewStatus.OPEN  # the page's re-check only checks
    assert client.post(reverse("review-submit", args=[rev.pk])).status_code == 302
    rev.refresh_from_db()
    s.split.refresh_from_db()
    assert rev.status == ReviewStatus.APPROVED and s.split.qc_status == QCStatus.APPROVED


@pytest.mark.django_db(transaction=True)
def test_running_the_load_check_again_through_the_api_approves_the_fixed_split():
    s, rev = _all_decided_with_a_failing_load_check()
    client = APIClient()
    client.force_authenticate(s.reviewer)
    response = client.post(f"/api/qc/reviews/{rev.pk}/load-check/")
    assert response.status_code == 200
    assert response.json()["status"] == ReviewStatus.APPROVED
    s.split.refresh_from_db()
    assert s.split.qc_status == QCStatus.APPROVED


@pytest.mark.django_db(transaction=True)
def test_evaluate_and_run_load_check_open_their_own_transaction():
    s, rev = _all_decided_with_a_failing_load_check()
    assert review.run_load_check(rev, s.reviewer)["ok"] is True
    assert review.evaluate(rev, s.reviewer, load_checked=True) == ReviewStatus.APPROVED


# --- 3. a reassigned reviewer ---------------------------------------------------------------------


def test_a_reassigned_review_is_refused_to_the_old_reviewer_and_superseded_by_the_new_one(client):
    s = make_split(12)
    old = review.start_review(s.split, s.reviewer)
    first, second = list(old.items.order_by("position"))[:2]
    review.decide(first, s.reviewer, Verdict.APPROVED)
    new_reviewer = ReviewerFactory()
    s.task.reviewer = new_reviewer
    s.task.save()

    with pytest.raises(review.ReviewError, match="reassigned to another reviewer"):
        review.decide(second, s.reviewer, Verdict.APPROVED)
    second.refresh_from_db()
    assert second.verdict == Verdict.PENDING

    # The new reviewer finds the split in their queue; the old one no longer lists the review as open.
    assert list(waiting_splits(new_reviewer)) == [s.split]
    client.force_login(s.reviewer)
    assert list(client.get(reverse("review-queue")).context["open_reviews"]) == []

    client.force_login(new_reviewer)
    response = client.post(reverse("review-start", args=[s.split.pk]))
    fresh = Review.objects.get(task_split=s.split, status=ReviewStatus.OPEN)
    assert response.status_code == 302 and response["Location"] == reverse("review-detail", args=[fresh.pk])
    assert (fresh.reviewer, fresh.round) == (new_reviewer, 2)
    old.refresh_from_db()
    assert old.status == ReviewStatus.SUPERSEDED and "reassigned" in old.notes
    event = AuditEvent.objects.get(review=old, action=AuditAction.REVIEW_SUPERSEDED)
    assert event.actor == new_reviewer and event.before == {"round": 1, "reviewer": s.reviewer.username}
    s.split.refresh_from_db()
    assert s.split.qc_status == QCStatus.IN_REVIEW
    assert list(s.split.reviews.order_by("round").values_list("round", "status")) == [
        (1, ReviewStatus.SUPERSEDED),
        (2, ReviewStatus.OPEN),
    ]
    for item in fresh.items.all():
        review.decide(item, new_reviewer, Verdict.APPROVED)
    s.split.refresh_from_db()
    assert s.split.qc_status == QCStatus.APPROVED and s.split.approved_by == new_reviewer


def test_a_live_review_is_still_not_started_twice():
    s = make_split(12)
    review.start_review(s.split, s.reviewer)
    with pytest.raises(review.ReviewError, match="already being reviewed"):
        review.start_review(s.split, s.reviewer)


# --- 4. content that changes during an open review ---------------------------------------------------


def test_a_split_reopened_during_its_review_is_not_approved_by_the_old_round(client):
    s = make_split(12)
    rev = review.start_review(s.split, s.reviewer)
    items = list(rev.items.order_by("position"))
    for item in items[:9]:
        review.decide(item, s.reviewer, Verdict.APPROVED)
    reason = "Reopened for review: paraphrase job #7 rewrote outputs after QC saw them."
    assert TaskSplit.objects.filter(pk=s.split.pk).reopen_for_review(reason) == 1
    s.split.refresh_from_db()
    assert s.split.qc_status == QCStatus.PENDING and s.split.qc_notes == reason

    with pytest.raises(review.ReviewError, match=r"went back to review.*paraphrase job #7"):
        review.decide(items[9], s.reviewer, Verdict.APPROVED)
    with pytest.raises(review.ReviewError, match="went back to review"):
        review.correct(items[9], s.reviewer, outputs="changed")
    with pytest.raises(review.ReviewError, match="went back to review"):
        review.recheck(rev, s.reviewer)
    # The load-check button says so instead of failing.
    client.force_login(s.reviewer)
    page = client.post(reverse("review-load-check", args=[rev.pk]), follow=True).content.decode()
    assert "went back to review" in page
    s.split.refresh_from_db()
    assert s.split.qc_status == QCStatus.PENDING and not s.split.is_approved

    # The split is waiting again; starting a new round supersedes the stale one.
    assert list(waiting_splits(s.reviewer)) == [s.split]
    fresh = review.start_review(s.split, s.reviewer)
    rev.refresh_from_db()
    assert rev.status == ReviewStatus.SUPERSEDED and reason in rev.notes
    assert fresh.round == 2 and fresh.is_open
    s.split.refresh_from_db()
    assert s.split.qc_status == QCStatus.IN_REVIEW


def test_reopening_leaves_pending_and_rejected_splits_alone():
    pending, rejected = make_split(3), make_split(3)
    TaskSplit.objects.filter(pk=rejected.split.pk).update(qc_status=QCStatus.REJECTED, qc_notes="fix it")
    assert TaskSplit.objects.filter(pk__in=[pending.split.pk, rejected.split.pk]).reopen_for_review("x") == 0
    rejected.split.refresh_from_db()
    assert (rejected.split.qc_status, rejected.split.qc_notes) == (QCStatus.REJECTED, "fix it")


# --- 5. one queue for the home page and QC -----------------------------------------------------------


def test_home_page_and_qc_queue_share_one_queue_including_rejected_splits(client):
    reviewer = ReviewerFactory()
    pending = make_split(3, split="train", reviewer=reviewer, slug="aaa")
    rejected = make_split(4, split="train", reviewer=reviewer, slug="bbb")
    reviewing = make_split(12, split="train", reviewer=reviewer, slug="ccc")
    approved = make_split(2, split="train", reviewer=reviewer, slug="ddd")
    TaskSplit.objects.filter(pk=rejected.split.pk).update(qc_status=QCStatus.REJECTED)
    TaskSplit.objects.filter(pk=approved.split.pk).update(qc_status=QCStatus.APPROVED)
    open_review = review.start_review(reviewing.split, reviewer)

    home = review_work(reviewer)
    assert [(split.task.slug, split.sample_count) for split in home.waiting] == [("aaa", 3), ("bbb", 4)]
    assert home.in_progress == [open_review] and home.count == 3
    assert home.without_samples == 4 * 2  # each task's val and test splits have no samples
    assert list(waiting_splits(reviewer)) == [pending.split, rejected.split]  # ccc is under way
    client.force_login(reviewer)
    context = client.get(reverse("review-queue")).context
    assert list(context["waiting"]) == [pending.split, rejected.split]
    assert list(context["open_reviews"]) == [open_review]
    assert "bbb" in client.get(reverse("home")).content.decode()
