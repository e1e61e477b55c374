"""Pages and API of QC: who may see and act on what (web and API, PATCH and bulk), and query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from annotator.models import QCStatus
from pipeline.media.images import store_image
from pipeline.models import SampleImage
from qc import review
from qc.models import AuditEvent, ReviewItem, Verdict
from tests.factories import AdminFactory, AnnotatorFactory, ReviewerFactory, png_bytes
from tests.qc.conftest import make_split

pytestmark = pytest.mark.django_db


def api(user: object) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def two_reviews():
    """Reviewer A and reviewer B each with an open review of their own task."""
    a = make_split(12)
    b = make_split(12)
    return a, review.start_review(a.split, a.reviewer), b, review.start_review(b.split, b.reviewer)


# --- web ---------------------------------------------------------------------------------------


def test_anonymous_goes_to_login(client, two_reviews):
    _, rev_a, _, _ = two_reviews
    for url in (reverse("review-queue"), reverse("review-detail", args=[rev_a.pk]), reverse("qc-dashboard")):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_annotator_cannot_review_on_the_web(client, two_reviews):
    a, rev_a, _, _ = two_reviews
    client.force_login(a.writer)
    item = rev_a.items.first()
    assert client.get(reverse("review-queue")).status_code == 404
    assert client.get(reverse("review-detail", args=[rev_a.pk])).status_code == 404
    assert client.post(reverse("review-item-decide", args=[item.pk]), {"verdict": "approved"}).status_code == 404
    assert client.post(reverse("review-start", args=[a.split.pk])).status_code == 404
    assert client.get(reverse("qc-dashboard")).status_code == 404
    item.refresh_from_db()
    assert item.verdict == Verdict.PENDING


def test_reviewer_cannot_see_or_act_on_another_reviewers_items_on_the_web(client, two_reviews):
    a, rev_a, b, rev_b = two_reviews
    client.force_login(b.reviewer)
    item = rev_a.items.first()
    assert client.get(reverse("review-detail", args=[rev_a.pk])).status_code == 404
    assert client.post(reverse("review-item-decide", args=[item.pk]), {"verdict": "approved"}).status_code == 404
    assert client.post(reverse("review-load-check", args=[rev_a.pk])).status_code == 404
    assert client.post(reverse("review-start", args=[a.split.pk])).status_code == 404
    assert client.get(reverse("qc-split-history", args=[a.split.pk])).status_code == 404
    assert client.get(reverse("qc-dashboard")).status_code == 404
    assert client.get(reverse("review-detail", args=[rev_b.pk])).status_code == 200
    item.refresh_from_db()
    assert item.verdict == Verdict.PENDING


def test_reviewer_decides_through_the_page_form_and_json(client, two_reviews):
    a, rev_a, _, _ = two_reviews
    client.force_login(a.reviewer)
    items = list(rev_a.items.order_by("position"))
    response = client.post(reverse("review-item-decide", args=[items[0].pk]), {"verdict": "approved"})
    assert response.status_code == 302
    response = client.post(
        reverse("review-item-decide", args=[items[1].pk]),
        {"verdict": "rejected"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400 and "needs a comment" in response.json()["error"]
    response = client.post(
        reverse("review-item-decide", args=[items[1].pk]),
        {"verdict": "corrected", "inputs": items[1].sample.inputs, "outputs": "A red square.", "comment": "sentence"},
        headers={"Accept": "application/json"},
    )
    body = response.json()
    assert body["item"]["verdict"] == "corrected" and body["item"]["outputs"] == "A red square."
    assert body["decided"] == 2 and body["total"] == 10 and body["review_status"] == "open"


def test_admin_reads_every_review_but_cannot_act_for_the_reviewer(client, two_reviews):
    a, rev_a, _, _ = two_reviews
    client.force_login(AdminFactory())
    page = client.get(reverse("review-detail", args=[rev_a.pk]))
    assert page.status_code == 200 and b"read only" in page.content and b"approve-form" not in page.content
    item = rev_a.items.first()
    assert client.post(reverse("review-item-decide", args=[item.pk]), {"verdict": "approved"}).status_code == 404
    assert client.get(reverse("qc-dashboard")).status_code == 200
    assert client.get(reverse("qc-reviewers")).status_code == 200
    assert client.get(reverse("qc-split-history", args=[a.split.pk])).status_code == 200


def test_rejection_notes_reach_the_tasks_annotator_and_not_other_annotators(client):
    s = make_split(10)
    rev = review.start_review(s.split, s.reviewer)
    for item in rev.items.all():
        review.decide(item, s.reviewer, Verdict.REJECTED, problems=["format"], comment="<b>broken</b> layout")
    client.force_login(s.writer)
    page = client.get(reverse("qc-returned"))
    assert b"&lt;b&gt;broken&lt;/b&gt; layout" in page.content and b"<b>broken</b>" not in page.content
    assert client.get(reverse("qc-split-history", args=[s.split.pk])).status_code == 200
    client.force_login(AnnotatorFactory())
    assert b"broken" not in client.get(reverse("qc-returned")).content
    assert client.get(reverse("qc-split-history", args=[s.split.pk])).status_code == 404


def test_queue_lists_waiting_splits_and_start_draws(client):
    s = make_split(15)
    client.force_login(s.reviewer)
    page = client.get(reverse("review-queue"))
    assert s.task.name.encode() in page.content
    response = client.post(reverse("review-start", args=[s.split.pk]))
    rev = s.split.reviews.get()
    assert response["Location"] == reverse("review-detail", args=[rev.pk])
    assert len(rev.sample_ids) == 10


def test_admin_requests_a_second_reviewer(client):
    s = make_split(10)
    review.start_review(s.split, s.reviewer)
    other = ReviewerFactory()
    client.force_login(AdminFactory())
    client.post(reverse("review-second", args=[s.split.pk]), {"reviewer": other.pk})
    second = s.split.reviews.get(reviewer=other)
    assert second.role == "second"
    client.force_login(other)
    page = client.get(reverse("review-detail", args=[second.pk]))
    assert page.status_code == 200
    assert b"approve-form" in page.content and b"edit-form" not in page.content  # verdicts only


def test_review_page_escapes_sample_text(client):
    s = make_split(1)
    s.samples[0].outputs = "<script>alert(1)</script>"
    s.samples[0].meta = {"note": "<img src=x onerror=alert(2)>"}
    s.samples[0].save()
    rev = review.start_review(s.split, s.reviewer)
    client.force_login(s.reviewer)
    content = client.get(reverse("review-detail", args=[rev.pk])).content
    assert b"<script>alert(1)" not in content and b"&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert b"<img src=x" not in content


def test_review_page_shows_the_load_check_result(client):
    s = make_split(3)
    s.samples[1].outputs = ""
    s.samples[1].save()
    rev = review.start_review(s.split, s.reviewer)
    client.force_login(s.reviewer)
    content = client.get(reverse("review-detail", args=[rev.pk])).content.decode()
    assert "Load check failed" in content and "1 of 3 records have problems" in content
    assert "Load check: outputs is empty" in content
    s.samples[1].outputs = "blue"
    s.samples[1].save()
    client.post(reverse("review-load-check", args=[rev.pk]))
    assert "Load check passed" in client.get(reverse("review-detail", args=[rev.pk])).content.decode()


# --- API ---------------------------------------------------------------------------------------


def test_annotator_cannot_review_through_the_api(two_reviews):
    a, rev_a, _, _ = two_reviews
    client = api(a.writer)
    item = rev_a.items.first()
    assert client.get("/api/qc/reviews/").status_code == 403
    assert client.get(f"/api/qc/reviews/{rev_a.pk}/").status_code == 403
    assert client.get("/api/qc/review-items/").status_code == 403
    assert client.patch(f"/api/qc/review-items/{item.pk}/", {"verdict": "approved"}, format="json").status_code == 403
    bulk = [{"id": item.pk, "verdict": "approved"}]
    assert client.post("/api/qc/review-items/bulk/", bulk, format="json").status_code == 403
    assert client.post("/api/qc/reviews/", {"task_split": a.split.pk}, format="json").status_code == 403
    item.refresh_from_db()
    assert item.verdict == Verdict.PENDING


def test_reviewer_cannot_see_or_act_on_another_reviewers_items_through_the_api(two_reviews):
    a, rev_a, b, rev_b = two_reviews
    client = api(b.reviewer)
    theirs = rev_a.items.first()
    mine = rev_b.items.first()
    assert client.get(f"/api/qc/reviews/{rev_a.pk}/").status_code == 404
    assert [r["id"] for r in client.get("/api/qc/reviews/").json()["results"]] == [rev_b.pk]
    assert client.get(f"/api/qc/review-items/{theirs.pk}/").status_code == 404
    listed = {i["id"] for i in client.get("/api/qc/review-items/").json()["results"]}
    assert listed == set(rev_b.items.values_list("id", flat=True))
    assert client.patch(f"/api/qc/review-items/{theirs.pk}/", {"verdict": "approved"}, format="json").status_code == 404
    assert client.put(f"/api/qc/review-items/{theirs.pk}/", {"verdict": "approved"}, format="json").status_code == 405
    bulk = [{"id": mine.pk, "verdict": "approved"}, {"id": theirs.pk, "verdict": "approved"}]
    assert client.post("/api/qc/review-items/bulk/", bulk, format="json").status_code == 404
    assert client.patch("/api/qc/review-items/bulk/", bulk, format="json").status_code == 404
    assert client.post(f"/api/qc/reviews/{rev_a.pk}/load-check/").status_code == 404
    assert client.post("/api/qc/reviews/", {"task_split": a.split.pk}, format="json").status_code == 404
    assert set(ReviewItem.objects.values_list("verdict", flat=True)) == {Verdict.PENDING}  # nothing changed


def test_admin_reads_through_the_api_but_cannot_patch_someone_elses_item(two_reviews):
    _, rev_a, _, _ = two_reviews
    client = api(AdminFactory())
    item = rev_a.items.first()
    assert client.get(f"/api/qc/reviews/{rev_a.pk}/").status_code == 200
    assert client.get(f"/api/qc/review-items/{item.pk}/").status_code == 200
    assert client.patch(f"/api/qc/review-items/{item.pk}/", {"verdict": "approved"}, format="json").status_code == 404


def test_reviewer_patches_and_bulk_approves_their_split(two_reviews):
    a, rev_a, _, _ = two_reviews
    client = api(a.reviewer)
    items = list(rev_a.items.order_by("position"))
    response = client.patch(
        f"/api/qc/review-items/{items[0].pk}/", {"verdict": "corrected", "outputs": "Red."}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["outputs"] == "Red." and response.json()["verdict"] == "corrected"
    # bulk is all or nothing: one refused decision (a rejection without tag or comment) changes nothing
    bad = [{"id": i.pk, "verdict": "approved"} for i in items[1:5]] + [{"id": items[5].pk, "verdict": "rejected"}]
    response = client.post("/api/qc/review-items/bulk/", bad, format="json")
    assert response.status_code == 400
    assert ReviewItem.objects.filter(review=rev_a, verdict=Verdict.PENDING).count() == 9
    good = [{"id": i.pk, "verdict": "approved"} for i in items[1:]]
    response = client.post("/api/qc/review-items/bulk/", good, format="json")
    assert response.status_code == 200 and len(response.json()) == 9
    a.split.refresh_from_db()
    assert a.split.qc_status == QCStatus.APPROVED
    assert client.get(f"/api/qc/reviews/{rev_a.pk}/").json()["status"] == "approved"


def test_admin_requests_a_second_reviewer_through_the_api():
    s = make_split(10)
    first = review.start_review(s.split, s.reviewer)
    other = ReviewerFactory()
    body = {"task_split": s.split.pk, "reviewer": other.pk}
    assert api(s.reviewer).post("/api/qc/reviews/second/", body, format="json").status_code == 403
    response = api(AdminFactory()).post("/api/qc/reviews/second/", body, format="json")
    assert response.status_code == 201 and response.json()["sample_ids"] == first.sample_ids
    again = api(AdminFactory()).post("/api/qc/reviews/second/", body, format="json")
    assert again.status_code == 400 and "already has a second reviewer" in again.json()["detail"]


def test_reviewer_starts_a_review_through_the_api():
    s = make_split(11)
    client = api(s.reviewer)
    response = client.post("/api/qc/reviews/", {"task_split": s.split.pk}, format="json")
    assert response.status_code == 201 and len(response.json()["sample_ids"]) == 10
    again = client.post("/api/qc/reviews/", {"task_split": s.split.pk}, format="json")
    assert again.status_code == 400 and "already being reviewed" in again.json()["detail"]


# --- query counts --------------------------------------------------------------------------------


def add_frames(setup: object, frames: int) -> None:
    """Give every sample of the split extra video-frame images, so a bigger page has more of everything."""
    for sample in setup.samples:
        for position in range(1, frames):
            image = store_image(png_bytes((position * 20, sample.pk % 256, 9), size=(8, 6)))
            SampleImage.objects.create(sample=sample, image=image, position=position)


def count_queries(client: object, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_review_page_query_count_does_not_grow(client, django_assert_num_queries):
    small = make_split(2)
    rev_small = review.start_review(small.split, small.reviewer)
    client.force_login(small.reviewer)
    expected = count_queries(client, reverse("review-detail", args=[rev_small.pk]))

    big = make_split(20, reviewer=small.reviewer)
    add_frames(big, 8)
    rev_big = review.start_review(big.split, big.reviewer)
    items = list(rev_big.items.order_by("position"))
    review.decide(items[0], big.reviewer, Verdict.REJECTED, problems=["image"], comment="dark")
    review.correct(items[1], big.reviewer, outputs="changed")
    assert AuditEvent.objects.filter(review=rev_big).count() > AuditEvent.objects.filter(review=rev_small).count()
    with django_assert_num_queries(expected):
        response = client.get(reverse("review-detail", args=[rev_big.pk]))
    assert response.content.count(b'class="review-item') == 10
    assert response.content.count(b'class="frame"') == 80


def test_dashboard_query_count_does_not_grow(client, django_assert_num_queries):
    admin = AdminFactory()
    client.force_login(admin)
    first = make_split(3)
    review.start_review(first.split, first.reviewer)
    expected = count_queries(client, reverse("qc-dashboard"))
    expected_reviewers = count_queries(client, reverse("qc-reviewers"))

    for _ in range(4):
        s = make_split(10)
        rev = review.start_review(s.split, s.reviewer)
        review.request_second_review(s.split, admin, ReviewerFactory())
        for item in rev.items.all():
            review.decide(item, s.reviewer, Verdict.REJECTED, problems=["outputs"], comment="short")
        review.start_review(s.split, s.reviewer)
    with django_assert_num_queries(expected):
        response = client.get(reverse("qc-dashboard"))
    assert response.content.count(b"outputs 10") == 4
    with django_assert_num_queries(expected_reviewers):
        client.get(reverse("qc-reviewers"))
