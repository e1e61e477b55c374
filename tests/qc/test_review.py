"""The state machine and the approval gate of a split."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from annotator.models import QCStatus
from pipeline.models import Sample, SampleQCState
from qc import review
from qc.models import AuditAction, AuditEvent, Review, ReviewStatus, SampleRevision, Verdict
from qc.selection import draw_samples, reservoir, review_seed
from tests.factories import InstructionFactory, ReviewerFactory
from tests.qc.conftest import make_split

pytestmark = pytest.mark.django_db


def approve_all(rev: Review, user: object, skip: int = 0) -> None:
    for item in list(rev.items.order_by("position"))[skip:]:
        review.decide(item, user, Verdict.APPROVED)


def test_start_draws_ten_recorded_reproducible_samples():
    s = make_split(25)
    rev = review.start_review(s.split, s.reviewer)
    s.split.refresh_from_db()
    assert s.split.qc_status == QCStatus.IN_REVIEW
    assert rev.round == 1 and rev.reviewer == s.reviewer
    assert len(rev.sample_ids) == 10 == len(set(rev.sample_ids))
    assert list(rev.items.order_by("position").values_list("sample_id", flat=True)) == rev.sample_ids
    assert set(rev.sample_ids) <= {x.pk for x in s.samples}
    # the draw is a function of the recorded seed: repeating it gives the same samples
    assert rev.seed == review_seed(s.task.slug, "train", 1)
    assert draw_samples(s.task.pk, "train", rev.seed) == rev.sample_ids
    assert AuditEvent.objects.get(review=rev, action=AuditAction.DRAW).after["sample_ids"] == rev.sample_ids


def test_reservoir_is_uniform_enough_and_seeded():
    assert reservoir(range(100), 10, 7) == reservoir(range(100), 10, 7)
    assert reservoir(range(100), 10, 7) != reservoir(range(100), 10, 8)
    assert sorted(reservoir(range(5), 10, 1)) == [0, 1, 2, 3, 4]
    # every element can be drawn: over many seeds all 30 values appear
    seen = set()
    for seed in range(200):
        seen.update(reservoir(range(30), 3, seed))
    assert seen == set(range(30))


def test_nine_approvals_and_one_pending_is_not_approved():
    s = make_split(12)
    rev = review.start_review(s.split, s.reviewer)
    items = list(rev.items.order_by("position"))
    for item in items[:9]:
        review.decide(item, s.reviewer, Verdict.APPROVED)
    s.split.refresh_from_db()
    rev.refresh_from_db()
    assert s.split.qc_status == QCStatus.IN_REVIEW
    assert rev.status == ReviewStatus.OPEN
    assert s.split.approved_at is None
    review.decide(items[9], s.reviewer, Verdict.APPROVED)
    s.split.refresh_from_db()
    rev.refresh_from_db()
    assert s.split.qc_status == QCStatus.APPROVED
    assert s.split.approved_by == s.reviewer and s.split.approved_at is not None
    assert rev.status == ReviewStatus.APPROVED and rev.load_check["ok"] is True
    states = set(Sample.objects.filter(pk__in=rev.sample_ids).values_list("qc_state", flat=True))
    assert states == {SampleQCState.APPROVED}
    assert AuditEvent.objects.filter(review=rev, action=AuditAction.SPLIT_APPROVED).count() == 1


def test_rejection_sends_back_with_notes_and_rereview_draws_new_samples():
    s = make_split(25)
    first = review.start_review(s.split, s.reviewer)
    items = list(first.items.order_by("position"))
    for item in items[:9]:
        review.decide(item, s.reviewer, Verdict.APPROVED)
    review.decide(items[9], s.reviewer, Verdict.REJECTED, problems=["outputs", "image"], comment="Box is wrong")
    s.split.refresh_from_db()
    first.refresh_from_db()
    assert s.split.qc_status == QCStatus.REJECTED
    assert first.status == ReviewStatus.REJECTED
    assert "Box is wrong" in s.split.qc_notes and "image, outputs" in s.split.qc_notes
    assert Sample.objects.get(pk=items[9].sample_id).qc_state == SampleQCState.REJECTED

    second = review.start_review(s.split, s.reviewer)
    s.split.refresh_from_db()
    assert second.round == 2 and s.split.qc_status == QCStatus.IN_REVIEW
    assert not set(second.sample_ids) & set(first.sample_ids)
    assert Review.objects.filter(task_split=s.split).count() == 2  # the old review stays as history
    approve_all(second, s.reviewer)
    s.split.refresh_from_db()
    assert s.split.qc_status == QCStatus.APPROVED


def test_rereview_of_a_small_split_tops_up_with_samples_seen_before():
    s = make_split(12)
    first = review.start_review(s.split, s.reviewer)
    review.decide(first.items.first(), s.reviewer, Verdict.REJECTED, problems=["format"], comment="bad")
    approve_all(first, s.reviewer, skip=1)
    second = review.start_review(s.split, s.reviewer)
    fresh = {x.pk for x in s.samples} - set(first.sample_ids)
    assert len(fresh) == 2 and len(second.sample_ids) == 10
    assert fresh <= set(second.sample_ids)  # every unseen sample first, then 8 seen ones
    assert len(set(second.sample_ids) & set(first.sample_ids)) == 8


def test_rejection_needs_a_comment_and_known_tags():
    s = make_split(10)
    rev = review.start_review(s.split, s.reviewer)
    item = rev.items.first()
    with pytest.raises(review.ReviewError, match="needs a comment"):
        review.decide(item, s.reviewer, Verdict.REJECTED)
    with pytest.raises(review.ReviewError, match="needs a comment"):  # tags alone do not say what is wrong
        review.decide(item, s.reviewer, Verdict.REJECTED, problems=["outputs"])
    with pytest.raises(review.ReviewError, match="Unknown problem tag"):
        review.decide(item, s.reviewer, Verdict.REJECTED, problems=["colour"], comment="x")
    item.refresh_from_db()
    assert item.verdict == Verdict.PENDING


def test_a_started_review_cannot_be_started_twice_and_an_empty_split_cannot_start():
    s = make_split(10)
    review.start_review(s.split, s.reviewer)
    with pytest.raises(review.ReviewError, match="already being reviewed"):
        review.start_review(s.split, s.reviewer)
    empty = make_split(0)
    with pytest.raises(review.ReviewError, match="no samples"):
        review.start_review(empty.split, empty.reviewer)


def test_reviewer_who_wrote_instructions_is_refused():
    s = make_split(10)
    InstructionFactory(task=s.task, author=s.reviewer)
    with pytest.raises(review.ReviewError, match="wrote instructions"):
        review.start_review(s.split, s.reviewer)
    with pytest.raises(ValidationError):
        Review.objects.create(task_split=s.split, round=1, reviewer=s.reviewer, seed=1, sample_ids=[])
    assert not Review.objects.exists()


def test_writer_cannot_review_even_if_named_explicitly():
    s = make_split(10)
    s.writer.groups.add(*s.reviewer.groups.all())
    with pytest.raises(review.ReviewError, match="writes its instructions"):
        review.start_review(s.split, s.reviewer, reviewer=s.writer)


def test_authorship_is_checked_again_when_a_verdict_is_saved():
    s = make_split(10)
    rev = review.start_review(s.split, s.reviewer)
    InstructionFactory(task=s.task, author=s.reviewer)  # became an author after the draw
    item = rev.items.first()
    with pytest.raises(review.ReviewError, match="wrote instructions"):
        review.decide(item, s.reviewer, Verdict.APPROVED)
    with pytest.raises(review.ReviewError, match="wrote instructions"):
        review.correct(item, s.reviewer, outputs="changed by an author")
    item.refresh_from_db()
    assert item.verdict == Verdict.PENDING
    assert not AuditEvent.objects.filter(action__in=[AuditAction.APPROVE, AuditAction.CORRECT]).exists()
    assert not SampleRevision.objects.exists()
    # and the model layer refuses it too, whoever calls save()
    item.verdict = Verdict.APPROVED
    with pytest.raises(ValidationError):
        item.save()


def test_only_the_assigned_reviewer_decides():
    s = make_split(10)
    rev = review.start_review(s.split, s.reviewer)
    with pytest.raises(review.ReviewError, match="assigned reviewer"):
        review.decide(rev.items.first(), ReviewerFactory(), Verdict.APPROVED)


def test_correction_is_a_recorded_revision_and_counts_as_pass():
    s = make_split(10)
    rev = review.start_review(s.split, s.reviewer)
    items = list(rev.items.order_by("position"))
    sample = Sample.objects.get(pk=items[0].sample_id)
    old = sample.outputs
    review.correct(items[0], s.reviewer, outputs="The square is red.", comment="full sentence")
    sample.refresh_from_db()
    assert sample.outputs == "The square is red." and sample.qc_state == SampleQCState.CORRECTED
    revision = SampleRevision.objects.get(sample=sample)
    assert revision.before == {"outputs": old} and revision.after == {"outputs": "The square is red."}
    event = AuditEvent.objects.get(action=AuditAction.CORRECT)
    assert event.before["outputs"] == old and event.after["outputs"] == "The square is red."
    assert event.actor == s.reviewer and event.sample_id == sample.pk
    with pytest.raises(review.ReviewError, match="Nothing was changed"):
        review.correct(items[1], s.reviewer, outputs=Sample.objects.get(pk=items[1].sample_id).outputs)
    with pytest.raises(review.ReviewError, match="cannot be empty"):
        review.correct(items[1], s.reviewer, outputs="  ")
    approve_all(rev, s.reviewer, skip=1)
    s.split.refresh_from_db()
    assert s.split.qc_status == QCStatus.APPROVED


def test_failing_load_check_blocks_approval_until_fixed():
    s = make_split(10)
    Sample.objects.filter(pk=s.samples[3].pk).update(outputs="")
    rev = review.start_review(s.split, s.reviewer)
    assert rev.load_check["ok"] is False
    assert rev.load_check["problems"] == {str(s.samples[3].pk): ["outputs is empty"]}
    items = {i.sample_id: i for i in rev.items.all()}
    for sample_id, item in items.items():
        if sample_id != s.samples[3].pk:
            review.decide(item, s.reviewer, Verdict.APPROVED)
    review.decide(items[s.samples[3].pk], s.reviewer, Verdict.APPROVED)  # all ten pass, but the load check fails
    s.split.refresh_from_db()
    rev.refresh_from_db()
    assert s.split.qc_status == QCStatus.IN_REVIEW and rev.status == ReviewStatus.OPEN
    review.correct(items[s.samples[3].pk], s.reviewer, outputs="blue")
    s.split.refresh_from_db()
    assert s.split.qc_status == QCStatus.APPROVED


def test_split_transitions_are_guarded():
    s = make_split(3)
    with pytest.raises(review.ReviewError, match="cannot go from"):
        review.set_split_status(s.split, QCStatus.APPROVED, s.reviewer)
    with pytest.raises(review.ReviewError):
        review.set_split_status(s.split, QCStatus.REJECTED)
    review.start_review(s.split, s.reviewer)
    s.split.refresh_from_db()
    with pytest.raises(review.ReviewError):
        review.set_split_status(s.split, QCStatus.PENDING)


def test_closed_review_refuses_more_decisions():
    s = make_split(3)
    rev = review.start_review(s.split, s.reviewer)
    approve_all(rev, s.reviewer)
    with pytest.raises(review.ReviewError, match="closed"):
        review.decide(rev.items.first(), s.reviewer, Verdict.REJECTED, comment="changed my mind")


def test_audit_events_are_append_only():
    s = make_split(3)
    review.start_review(s.split, s.reviewer)
    event = AuditEvent.objects.first()
    event.comment = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(comment="x")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).comment == ""


def test_second_reviewer_judges_the_same_samples_without_moving_the_gate():
    s = make_split(10)
    first = review.start_review(s.split, s.reviewer)
    other = ReviewerFactory()
    with pytest.raises(review.ReviewError, match="someone other"):
        review.request_second_review(s.split, s.reviewer, s.reviewer)
    second = review.request_second_review(s.split, s.reviewer, other)
    assert second.sample_ids == first.sample_ids and second.round == first.round
    with pytest.raises(review.ReviewError, match="verdicts only"):
        review.correct(second.items.first(), other, outputs="x")
    for item in second.items.all():
        review.decide(item, other, Verdict.REJECTED, comment="no")
    s.split.refresh_from_db()
    second.refresh_from_db()
    assert second.status == ReviewStatus.REJECTED
    assert s.split.qc_status == QCStatus.IN_REVIEW  # the first reviewer's review decides the split
    assert set(Sample.objects.filter(pk__in=first.sample_ids).values_list("qc_state", flat=True)) == {"unchecked"}
