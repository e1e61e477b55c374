"""Review dead ends (issue 15, items 8, 10, 11): a failing load check says what is wrong and who fixes it
and offers a re-check; short answers never paraphrased need an explicit, recorded choice; decisions can
be undone until an explicit submit, which ends with a summary and the next split."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from annotator.models import QCStatus
from pipeline.models import ParaphraseState, Sample, SampleQCState
from pipeline.samples import counts
from qc import review
from qc.models import AuditAction, AuditEvent, Review, ReviewStatus, SampleRevision, ShortAnswers, Verdict
from tests.qc.conftest import make_split

pytestmark = pytest.mark.django_db


def decide_all_on_the_page(client, rev: Review) -> None:
    for item in rev.items.order_by("position"):
        response = client.post(reverse("review-item-decide", args=[item.pk]), {"verdict": "approved"})
        assert response.status_code == 302


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


# --- 8. a failing load check: what, who, re-check ---------------------------------------------


def test_failing_load_check_says_what_is_wrong_who_fixes_it_and_offers_a_recheck(client):
    s = make_split(10)
    Sample.objects.filter(pk=s.samples[2].pk).update(instruction=None)  # "instruction is empty"
    rev = review.start_review(s.split, s.reviewer)
    client.force_login(s.reviewer)
    decide_all_on_the_page(client, rev)
    page = client.get(reverse("review-detail", args=[rev.pk]))
    html = page.content.decode()
    assert "instruction is empty" in html
    assert s.writer.username in html and "A reviewer cannot change instructions" in html  # who can fix it
    assert reverse("review-load-check", args=[rev.pk]) in html  # the re-check button is on the page
    position = rev.sample_ids.index(s.samples[2].pk) + 1
    assert f"(sample {position})" in html

    response = client.post(reverse("review-submit", args=[rev.pk]), follow=True)
    text = messages_of(response)
    assert "cannot be approved yet" in text and "instruction is empty" in text and s.writer.username in text
    rev.refresh_from_db()
    s.split.refresh_from_db()
    assert rev.status == ReviewStatus.OPEN and s.split.qc_status == QCStatus.IN_REVIEW

    # the writer's instruction reaches the sample; the re-check passes and the submit approves
    Sample.objects.filter(pk=s.samples[2].pk).update(instruction=s.samples[0].instruction)
    response = client.post(reverse("review-load-check", args=[rev.pk]), follow=True)
    assert "Load check passed" in messages_of(response)
    client.post(reverse("review-submit", args=[rev.pk]))
    s.split.refresh_from_db()
    assert s.split.qc_status == QCStatus.APPROVED


# --- 10. short answers never paraphrased ------------------------------------------------------


def test_unparaphrased_split_shows_the_count_and_approval_needs_a_recorded_choice(client):
    s = make_split(12)
    waiting = [x.pk for x in s.samples[:7]]
    counts.set_states(Sample.objects.filter(pk__in=waiting), paraphrase_state=ParaphraseState.PENDING)  # + counters
    Sample.objects.filter(pk__in=waiting).update(outputs="pink")
    client.force_login(s.reviewer)
    queue = client.get(reverse("review-queue")).content.decode()
    assert "7 wait for paraphrasing" in queue
    rev = review.start_review(s.split, s.reviewer)
    decide_all_on_the_page(client, rev)
    html = client.get(reverse("review-detail", args=[rev.pk])).content.decode()
    assert "7 samples of" in html and "wait for paraphrasing" in html
    assert 'name="short_answers" value="as_is"' in html and 'value="paraphrase_first"' in html

    response = client.post(reverse("review-submit", args=[rev.pk]), follow=True)
    assert "Choose: paraphrase first, or export the short answers as they are" in messages_of(response)
    response = client.post(reverse("review-submit", args=[rev.pk]), {"short_answers": "paraphrase_first"}, follow=True)
    assert "Recorded: paraphrase first" in messages_of(response)
    rev.refresh_from_db()
    assert rev.status == ReviewStatus.OPEN and rev.short_answers == ShortAnswers.PARAPHRASE_FIRST
    s.split.refresh_from_db()
    assert s.split.qc_status == QCStatus.IN_REVIEW

    client.post(reverse("review-submit", args=[rev.pk]), {"short_answers": "as_is"})
    rev.refresh_from_db()
    s.split.refresh_from_db()
    assert rev.status == ReviewStatus.APPROVED and rev.short_answers == ShortAnswers.AS_IS
    assert s.split.qc_status == QCStatus.APPROVED
    approved = AuditEvent.objects.get(review=rev, action=AuditAction.SPLIT_APPROVED)
    assert approved.after["short_answers"] == "as_is" and approved.after["unparaphrased"] == 7
    choices = AuditEvent.objects.filter(review=rev, action=AuditAction.SUBMIT).values_list("after", flat=True)
    assert [c["short_answers"] for c in choices] == ["paraphrase_first", "as_is"]


def test_api_decisions_do_not_approve_unparaphrased_split_until_the_choice_is_sent():
    s = make_split(10)
    counts.set_states(Sample.objects.filter(pk=s.samples[0].pk), paraphrase_state=ParaphraseState.FAILED)
    rev = review.start_review(s.split, s.reviewer)
    api = APIClient()
    api.force_authenticate(s.reviewer)
    for item in rev.items.all():
        assert api.patch(f"/api/qc/review-items/{item.pk}/", {"verdict": "approved"}, format="json").status_code == 200
    rev.refresh_from_db()
    assert rev.status == ReviewStatus.OPEN
    refused = api.post(f"/api/qc/reviews/{rev.pk}/submit/", {}, format="json")
    assert refused.status_code == 400 and "wait for paraphrasing" in refused.json()["detail"]
    done = api.post(f"/api/qc/reviews/{rev.pk}/submit/", {"short_answers": "as_is"}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "approved" and done.json()["short_answers"] == "as_is"


# --- 11. undo, explicit submit, summary, rejection comment ------------------------------------


def test_the_tenth_approval_on_the_page_does_not_approve_until_submitted_and_undo_takes_back(client):
    s = make_split(10)
    rev = review.start_review(s.split, s.reviewer)
    client.force_login(s.reviewer)
    decide_all_on_the_page(client, rev)
    rev.refresh_from_db()
    s.split.refresh_from_db()
    assert rev.status == ReviewStatus.OPEN and s.split.qc_status == QCStatus.IN_REVIEW
    last = rev.items.order_by("-decided_at", "-id").first()

    response = client.post(reverse("review-undo", args=[rev.pk]), headers={"Accept": "application/json"})
    assert response.status_code == 200
    body = response.json()
    assert body["item"]["id"] == last.pk and body["item"]["verdict"] == "pending" and body["decided"] == 9
    last.refresh_from_db()
    assert last.verdict == Verdict.PENDING and last.decided_at is None
    assert Sample.objects.get(pk=last.sample_id).qc_state == SampleQCState.UNCHECKED
    assert AuditEvent.objects.filter(review=rev, action=AuditAction.UNDO, item=last).count() == 1

    response = client.post(reverse("review-submit", args=[rev.pk]), follow=True)
    assert "1 of 10 samples are not decided yet" in messages_of(response)
    client.post(
        reverse("review-item-decide", args=[last.pk]),
        {"verdict": "rejected", "problems": ["outputs"], "comment": "too short"},
    )
    rev.refresh_from_db()
    assert rev.status == ReviewStatus.OPEN  # still not final
    client.post(reverse("review-submit", args=[rev.pk]))
    rev.refresh_from_db()
    s.split.refresh_from_db()
    assert rev.status == ReviewStatus.REJECTED and s.split.qc_status == QCStatus.REJECTED
    # after the submit there is nothing left to undo
    assert client.post(reverse("review-undo", args=[rev.pk])).status_code == 302
    last.refresh_from_db()
    assert last.verdict == Verdict.REJECTED


def test_undo_of_a_correction_restores_the_text_as_a_recorded_revision():
    s = make_split(10)
    rev = review.start_review(s.split, s.reviewer)
    item = rev.items.order_by("position").first()
    original = item.sample.outputs
    review.correct(item, s.reviewer, outputs="A red square.", close=False)
    review.undo_last(rev, s.reviewer)
    sample = Sample.objects.get(pk=item.sample_id)
    assert sample.outputs == original and sample.qc_state == SampleQCState.UNCHECKED
    revisions = list(SampleRevision.objects.filter(sample=sample).values_list("before", "after"))
    assert revisions == [
        ({"outputs": original}, {"outputs": "A red square."}),
        ({"outputs": "A red square."}, {"outputs": original}),
    ]
    with pytest.raises(review.ReviewError, match="Nothing to undo"):
        review.undo_last(rev, s.reviewer)


def test_end_of_review_summary_counts_verdicts_and_links_the_next_split(client):
    first = make_split(10, slug="aaa")
    second = make_split(10, slug="bbb", reviewer=first.reviewer)
    rev = review.start_review(first.split, first.reviewer)
    client.force_login(first.reviewer)
    items = list(rev.items.order_by("position"))
    for item in items[:8]:
        client.post(reverse("review-item-decide", args=[item.pk]), {"verdict": "approved"})
    client.post(
        reverse("review-item-decide", args=[items[8].pk]),
        {"verdict": "corrected", "inputs": items[8].sample.inputs, "outputs": "The square is red."},
    )
    client.post(reverse("review-item-decide", args=[items[9].pk]), {"verdict": "approved"})
    client.post(reverse("review-submit", args=[rev.pk]))
    page = client.get(reverse("review-detail", args=[rev.pk]))
    html = page.content.decode()
    assert 'id="review-summary"' in html
    assert "9 approved · 1 corrected · 0 rejected" in " ".join(html.split())
    assert reverse("review-start", args=[second.split.pk]) in html and "Review bbb/train" in html
