"""The review state machine and the approval gate of a split.

A split moves pending → in_review → approved | rejected; a rejected (or approved) split can be
reviewed again in a new round, which draws new samples and keeps the old review as history.
The primary review of the latest round decides: approved only when every drawn sample passes
(approved or corrected) AND the load check passes. Every step writes an AuditEvent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotator import roles
from annotator.models import Instruction, QCStatus, TaskSplit
from pipeline.models import Sample, SampleQCState
from pipeline.samples import counts

from .loadcheck import load_check
from .models import (
    AuditAction,
    AuditEvent,
    ProblemTag,
    Review,
    ReviewItem,
    ReviewRole,
    ReviewStatus,
    SampleRevision,
    ShortAnswers,
    Verdict,
)
from .selection import draw_samples, review_seed

SPLIT_TRANSITIONS: dict[str, set[str]] = {
    QCStatus.PENDING: {QCStatus.IN_REVIEW},
    QCStatus.IN_REVIEW: {QCStatus.APPROVED, QCStatus.REJECTED},
    QCStatus.REJECTED: {QCStatus.IN_REVIEW},
    QCStatus.APPROVED: {QCStatus.IN_REVIEW},
}
SAMPLE_STATE = {
    Verdict.APPROVED: SampleQCState.APPROVED,
    Verdict.REJECTED: SampleQCState.REJECTED,
    Verdict.CORRECTED: SampleQCState.CORRECTED,
}
EDITABLE_FIELDS = ("inputs", "outputs")
# Samples whose short source answer still waits for a paraphrase (never run, or failed).


class ReviewError(Exception):
    """A step the rules refuse; the message is meant for the user."""


def _messages(error: ValidationError) -> str:
    return " ".join(error.messages)


def audit(task_split_id: int, action: str, actor: Any = None, **fields: Any) -> AuditEvent:
    return AuditEvent.objects.create(task_split_id=task_split_id, action=action, actor=actor, **fields)


def set_split_status(split: TaskSplit, status: str, actor: Any = None, notes: str | None = None) -> None:
    """Move a split along SPLIT_TRANSITIONS; approval records who and when, anything else clears it."""
    if status not in SPLIT_TRANSITIONS[split.qc_status]:
        raise ReviewError(f"A split cannot go from {split.get_qc_status_display()} to {QCStatus(status).label}.")
    split.qc_status = status
    if status == QCStatus.APPROVED:
        split.approved_by, split.approved_at = actor, timezone.now()
    else:
        split.approved_by, split.approved_at = None, None
    fields = ["qc_status", "approved_by", "approved_at", "updated_at"]
    if notes is not None:
        split.qc_notes = notes
        fields.append("qc_notes")
    split.save(update_fields=fields)


def _lock_split(task_split: TaskSplit | int) -> TaskSplit:
    pk = task_split if isinstance(task_split, int) else task_split.pk
    return TaskSplit.objects.select_for_update().select_related("task").get(pk=pk)


def stale_reason(review: Review) -> str | None:
    """Why an open primary review can no longer decide its split, or None when it still can.

    The split went back to pending (its content changed: TaskSplit.objects.reopen_for_review) or the task
    got another reviewer. Such a review stays open until the next start_review supersedes it.
    """
    if not (review.is_open and review.is_primary):
        return None
    split = review.task_split
    if split.qc_status != QCStatus.IN_REVIEW:
        why = split.qc_notes or "its content changed"
        return f"{split} went back to review since these samples were drawn ({why}). A new round must be started."
    if split.task.reviewer_id != review.reviewer_id:
        return f"{split.task.slug} was reassigned to another reviewer; this review can no longer be decided."
    return None


def _supersede(review: Review, actor: Any, reason: str) -> None:
    """Close an open review that can no longer decide; it stays in the history with the reason."""
    review.status = ReviewStatus.SUPERSEDED
    review.notes = reason
    review.decided_at = timezone.now()
    review.save(update_fields=["status", "notes", "decided_at"])
    audit(
        review.task_split_id,
        AuditAction.REVIEW_SUPERSEDED,
        actor,
        review=review,
        before={"round": review.round, "reviewer": review.reviewer.username},
        comment=reason,
    )


@transaction.atomic
def start_review(task_split: TaskSplit, actor: Any, reviewer: Any = None) -> Review:
    """Draw the samples of a new round and assign them to the task's reviewer (or `reviewer`)."""
    split = _lock_split(task_split)
    reviewer = reviewer or split.task.reviewer
    if reviewer is None:
        raise ReviewError(f"Task {split.task.slug} has no reviewer assigned.")
    if not roles.is_reviewer(reviewer):
        raise ReviewError(f"{reviewer} is not in the reviewer group.")
    open_reviews = split.reviews.select_for_update().filter(status=ReviewStatus.OPEN, role=ReviewRole.PRIMARY)
    for open_review in open_reviews.select_related("reviewer"):
        open_review.task_split = split
        reason = stale_reason(open_review)
        if reason is None:
            raise ReviewError(f"{split} is already being reviewed.")
        _supersede(open_review, actor, reason)
    # A split left in review by a superseded review (reviewer reassigned) stays in review.
    if split.qc_status != QCStatus.IN_REVIEW and QCStatus.IN_REVIEW not in SPLIT_TRANSITIONS[split.qc_status]:
        raise ReviewError(f"{split} cannot be reviewed now ({split.get_qc_status_display()}).")
    earlier = split.reviews.all()
    round_number = (earlier.aggregate(m=Max("round"))["m"] or 0) + 1
    seen = {sample_id for ids in earlier.values_list("sample_ids", flat=True) for sample_id in ids}
    seed = review_seed(split.task.slug, split.split, round_number)
    sample_ids = draw_samples(split.task_id, split.split, seed, exclude=seen)
    if not sample_ids:
        raise ReviewError(f"{split} has no samples to review yet.")
    review = Review(
        task_split=split, round=round_number, reviewer=reviewer, seed=seed, sample_ids=sample_ids, created_by=actor
    )
    try:
        review.save()
    except ValidationError as exc:
        raise ReviewError(_messages(exc)) from exc
    ReviewItem.objects.bulk_create(
        ReviewItem(review=review, sample_id=sample_id, position=index) for index, sample_id in enumerate(sample_ids)
    )
    counts.set_states(Sample.objects.filter(id__in=sample_ids), qc_state=SampleQCState.UNCHECKED)
    if split.qc_status != QCStatus.IN_REVIEW:
        set_split_status(split, QCStatus.IN_REVIEW, actor)
    audit(
        split.pk,
        AuditAction.DRAW,
        actor,
        review=review,
        after={"round": round_number, "seed": seed, "sample_ids": sample_ids, "reviewer": reviewer.username},
    )
    run_load_check(review, actor)
    return review


@transaction.atomic
def request_second_review(task_split: TaskSplit, actor: Any, reviewer: Any) -> Review:
    """A second reviewer judges the same samples as the latest primary review, for agreement only."""
    split = _lock_split(task_split)
    primary = split.reviews.filter(role=ReviewRole.PRIMARY).order_by("-round").first()
    if primary is None:
        raise ReviewError(f"{split} has no review yet; start one first.")
    primary.task_split = split
    if primary.status == ReviewStatus.SUPERSEDED or stale_reason(primary):
        raise ReviewError(f"The latest review of {split} was superseded; start a new round first.")
    if not roles.is_reviewer(reviewer):
        raise ReviewError(f"{reviewer} is not in the reviewer group.")
    if reviewer.pk == primary.reviewer_id:
        raise ReviewError("The second reviewer must be someone other than the first.")
    if split.reviews.filter(round=primary.round, role=ReviewRole.SECOND).exists():
        raise ReviewError(f"Round {primary.round} of {split} already has a second reviewer.")
    review = Review(
        task_split=split,
        round=primary.round,
        role=ReviewRole.SECOND,
        reviewer=reviewer,
        seed=primary.seed,
        sample_ids=primary.sample_ids,
        created_by=actor,
    )
    try:
        review.save()
    except ValidationError as exc:
        raise ReviewError(_messages(exc)) from exc
    ReviewItem.objects.bulk_create(
        ReviewItem(review=review, sample_id=sample_id, position=index)
        for index, sample_id in enumerate(primary.sample_ids)
    )
    audit(
        split.pk,
        AuditAction.SECOND_REQUESTED,
        actor,
        review=review,
        after={"round": primary.round, "reviewer": reviewer.username},
    )
    return review


def _lock_item(item: ReviewItem, user: Any) -> ReviewItem:
    # Decisions on one review run one after another, so the gate is evaluated once per change. The split
    # is locked first (the order start_review uses), so a reopen or a new round cannot slip in between.
    split_id = Review.objects.filter(pk=item.review_id).values_list("task_split_id", flat=True).first()
    _lock_split(split_id)
    Review.objects.select_for_update().filter(pk=item.review_id).first()
    item = (
        ReviewItem.objects.select_for_update(of=("self",))
        .select_related("review__task_split__task", "sample")
        .get(pk=item.pk)
    )
    if item.review.reviewer_id != user.pk:
        raise ReviewError("Only the assigned reviewer can decide on this sample.")
    if not item.review.is_open:
        raise ReviewError("This review is closed.")
    reason = stale_reason(item.review)
    if reason:
        raise ReviewError(reason)
    try:
        item.review.check_reviewer()  # authorship may have changed since the draw
    except ValidationError as exc:
        raise ReviewError(_messages(exc)) from exc
    return item


def _item_state(item: ReviewItem) -> dict[str, Any]:
    return {"verdict": item.verdict, "problems": list(item.problems), "comment": item.comment}


@transaction.atomic
def decide(
    item: ReviewItem, user: Any, verdict: str, problems: Iterable[str] = (), comment: str = "", close: bool = True
) -> ReviewItem:
    """Approve or reject one sample. With `close` (the API) the gate is evaluated after every decision;
    the review page passes close=False and closes the review with an explicit submit()."""
    if verdict not in (Verdict.APPROVED, Verdict.REJECTED):
        raise ReviewError("A verdict is either approved or rejected (corrections go through correct()).")
    item = _lock_item(item, user)
    before = _item_state(item)
    item.verdict = verdict
    item.problems = sorted(set(problems)) if verdict == Verdict.REJECTED else []
    item.comment = comment.strip()
    item.decided_at = timezone.now()
    try:
        item.save()
    except ValidationError as exc:
        raise ReviewError(_messages(exc)) from exc
    if item.review.is_primary:
        counts.set_states(Sample.objects.filter(pk=item.sample_id), qc_state=SAMPLE_STATE[verdict])
    action = AuditAction.APPROVE if verdict == Verdict.APPROVED else AuditAction.REJECT
    audit(
        item.review.task_split_id,
        action,
        user,
        review=item.review,
        item=item,
        sample_id=item.sample_id,
        before=before,
        after=_item_state(item),
        comment=item.comment,
    )
    if close:
        evaluate(item.review, user)
    return item


@transaction.atomic
def correct(
    item: ReviewItem,
    user: Any,
    inputs: str | None = None,
    outputs: str | None = None,
    comment: str = "",
    close: bool = True,
) -> ReviewItem:
    """Correct a sample's inputs and/or outputs in place: a recorded revision, and the sample passes."""
    item = _lock_item(item, user)
    if not item.review.is_primary:
        raise ReviewError("A second reviewer records verdicts only; corrections belong to the split's reviewer.")
    sample = Sample.objects.select_for_update().get(pk=item.sample_id)
    proposed = {"inputs": inputs, "outputs": outputs}
    changes = {f: v for f, v in proposed.items() if v is not None and v != getattr(sample, f)}
    if not changes:
        raise ReviewError("Nothing was changed.")
    if "outputs" in changes and not changes["outputs"].strip():
        raise ReviewError("The outputs cannot be empty.")
    before = {f: getattr(sample, f) for f in changes}
    SampleRevision.objects.create(
        sample=sample, item=item, editor=user, before=before, after=changes, comment=comment.strip()
    )
    for field, value in changes.items():
        setattr(sample, field, value)
    deltas = counts.new_deltas()
    key = (sample.task_id, sample.split)
    paraphrase_state = sample.paraphrase_state
    counts.move(deltas, key, (paraphrase_state, sample.qc_state), (paraphrase_state, SampleQCState.CORRECTED))
    sample.qc_state = SampleQCState.CORRECTED
    sample.save(update_fields=[*changes, "qc_state", "updated_at"])
    counts.apply(deltas)
    item_before = _item_state(item)
    item.verdict = Verdict.CORRECTED
    item.problems = sorted(set(item.problems) | {ProblemTag(f).value for f in changes})
    item.comment = comment.strip() or item.comment
    item.decided_at = timezone.now()
    item.save()
    audit(
        item.review.task_split_id,
        AuditAction.CORRECT,
        user,
        review=item.review,
        item=item,
        sample_id=sample.pk,
        before={**before, **item_before},
        after={**changes, **_item_state(item)},
        comment=item.comment,
    )
    run_load_check(item.review, user)
    if close:
        evaluate(item.review, user, load_checked=True)
    return item


@transaction.atomic
def run_load_check(review: Review, actor: Any = None) -> dict[str, Any]:
    """Serialise the review's samples as the exporter will, re-read and check them; store the result."""
    samples = {
        s.pk: s
        for s in Sample.objects.filter(id__in=review.sample_ids)
        .select_related("instruction")
        .prefetch_related("sample_images__image")
    }
    pool = set(Instruction.objects.filter(task_id=review.task_split.task_id).values_list("text", flat=True))
    result = load_check([samples[i] for i in review.sample_ids if i in samples], pool)
    review.load_check = result
    review.save(update_fields=["load_check"])
    audit(
        review.task_split_id,
        AuditAction.LOAD_CHECK,
        actor,
        review=review,
        after={"ok": result["ok"], "records": result["records"], "problems": result["problems"]},
    )
    return result


def rejection_notes(items: Iterable[ReviewItem]) -> str:
    lines = []
    for item in items:
        if item.verdict == Verdict.REJECTED:
            tags = ", ".join(item.problems) or "no tag"
            lines.append(f"Sample {item.position + 1} ({item.sample.source_id}) [{tags}]: {item.comment or '-'}")
    return "\n".join(lines)


@transaction.atomic
def evaluate(review: Review, actor: Any, load_checked: bool = False) -> str:
    """The gate: close the review once every sample is decided. Returns the review's status.

    Any rejection sends the split back with the notes; all passing plus a passing load check approves it;
    all passing with a failing load check leaves it open so the reviewer can correct or reject. A review
    that can no longer decide (stale_reason) changes nothing.
    """
    review.task_split = _lock_split(review.task_split_id)
    review.status = Review.objects.select_for_update().values_list("status", flat=True).get(pk=review.pk)
    if not review.is_open or stale_reason(review):
        return review.status
    items = list(review.items.select_related("sample"))
    if any(item.verdict == Verdict.PENDING for item in items):
        return review.status
    rejected = any(item.verdict == Verdict.REJECTED for item in items)
    if not review.is_primary:
        review.status = ReviewStatus.REJECTED if rejected else ReviewStatus.APPROVED
    elif rejected:
        review.status = ReviewStatus.REJECTED
        review.notes = rejection_notes(items)
        split = review.task_split
        set_split_status(split, QCStatus.REJECTED, actor, notes=review.notes)
        audit(split.pk, AuditAction.SPLIT_REJECTED, actor, review=review, after={"notes": review.notes})
    else:
        result = review.load_check if load_checked else run_load_check(review, actor)
        if not result.get("ok"):
            return review.status
        waiting = unparaphrased_count(review.task_split)
        review.short_answers = Review.objects.values_list("short_answers", flat=True).get(pk=review.pk)
        if waiting and review.short_answers != ShortAnswers.AS_IS:
            return review.status  # approval asks for an explicit choice (submit)
        review.status = ReviewStatus.APPROVED
        split = review.task_split
        set_split_status(split, QCStatus.APPROVED, review.reviewer, notes="")
        after = {"round": review.round}
        if waiting:
            after.update(short_answers=review.short_answers, unparaphrased=waiting)
        audit(split.pk, AuditAction.SPLIT_APPROVED, actor, review=review, after=after)
    review.decided_at = timezone.now()
    review.save(update_fields=["status", "notes", "decided_at"])
    return review.status


@transaction.atomic
def recheck(review: Review, actor: Any, close: bool = True) -> dict[str, Any]:
    """Run the load check again (samples fixed elsewhere); with `close` (the API) the gate decides too."""
    review.task_split = _lock_split(review.task_split_id)
    review.refresh_from_db(fields=["status"])
    if not review.is_open:
        raise ReviewError("This review is closed.")
    reason = stale_reason(review)
    if reason:
        raise ReviewError(reason)
    result = run_load_check(review, actor)
    if close:
        evaluate(review, actor, load_checked=True)
    return result


def unparaphrased_count(split: TaskSplit) -> int:
    """Samples of the split whose short answer still waits for paraphrasing."""
    split.refresh_from_db(fields=["paraphrase_pending", "paraphrase_failed"])  # the counters, not a COUNT
    return split.paraphrase_pending + split.paraphrase_failed


def who_fixes(problem: str, split: TaskSplit) -> str:
    """Who can fix one load-check problem, and how, in words for the review page."""
    writer = split.task.writer.username if split.task.writer_id else "the task's writer (none assigned yet)"
    if problem.startswith("instruction"):
        return (
            f"{writer} fixes the instruction pool of {split.task.slug} (Stage I); an admin can then redraw "
            "instructions. A reviewer cannot change instructions."
        )
    if problem.startswith(("outputs", "inputs")):
        return "You can: correct the sample's inputs/outputs (e), or reject it."
    if problem.startswith("image") or "image" in problem:
        return "An admin re-imports the sample's images; you can reject the sample meanwhile."
    return "An admin fixes the sample's data (Django admin or a new import); you can reject the sample meanwhile."


def load_check_fixes(review: Review) -> list[dict[str, Any]]:
    """The failed load check as the page shows it: each problem, the samples it hits, who can fix it."""
    positions = {sample_id: index + 1 for index, sample_id in enumerate(review.sample_ids)}
    grouped: dict[str, list[int]] = {}
    for sample_id, problems in (review.load_check or {}).get("problems", {}).items():
        for problem in problems:
            grouped.setdefault(problem, []).append(positions.get(int(sample_id), 0))
    return [
        {"problem": problem, "samples": sorted(samples), "who": who_fixes(problem, review.task_split)}
        for problem, samples in sorted(grouped.items())
    ]


def blockers(review: Review) -> list[str]:
    """Why submitting this (open, primary) review would not approve its split; empty when it would."""
    items = list(review.items.all())
    reasons = []
    pending = sum(1 for item in items if item.verdict == Verdict.PENDING)
    if pending:
        reasons.append(f"{pending} of {len(items)} samples are not decided yet.")
    if any(item.verdict == Verdict.REJECTED for item in items):
        return reasons  # submitting sends the split back; nothing else blocks that
    check = review.load_check or {}
    if check and not check.get("ok"):
        for fix in load_check_fixes(review):
            samples = ", ".join(str(n) for n in fix["samples"])
            reasons.append(f"Load check: {fix['problem']} (sample {samples}). {fix['who']}")
    return reasons


@transaction.atomic
def submit(review: Review, user: Any, short_answers: str = "") -> tuple[str, str]:
    """The reviewer's explicit last step: close the review (approve or send back) once every sample is decided.

    A split with samples waiting for paraphrasing is approved only with short_answers="as_is" (recorded);
    "paraphrase_first" is recorded and leaves the review open. A failing load check leaves it open with
    what is wrong and who can fix it. Returns (the review's status, a message for the reviewer).
    """
    review.task_split = _lock_split(review.task_split_id)
    review = Review.objects.select_for_update().select_related("task_split__task", "reviewer").get(pk=review.pk)
    if review.reviewer_id != user.pk:
        raise ReviewError("Only the assigned reviewer can submit this review.")
    if not review.is_open:
        raise ReviewError("This review is closed.")
    reason = stale_reason(review)
    if reason:
        raise ReviewError(reason)
    items = list(review.items.all())
    pending = sum(1 for item in items if item.verdict == Verdict.PENDING)
    if pending:
        raise ReviewError(f"{pending} of {len(items)} samples are not decided yet.")
    split = review.task_split
    rejected = any(item.verdict == Verdict.REJECTED for item in items)
    if review.is_primary and not rejected:
        waiting = unparaphrased_count(split)
        if waiting:
            if short_answers not in (ShortAnswers.AS_IS, ShortAnswers.PARAPHRASE_FIRST):
                raise ReviewError(
                    f"{waiting} samples of {split} wait for paraphrasing (their answers are short). "
                    "Choose: paraphrase first, or export the short answers as they are."
                )
            review.short_answers = short_answers
            review.save(update_fields=["short_answers"])
            audit(
                split.pk,
                AuditAction.SUBMIT,
                user,
                review=review,
                after={"short_answers": short_answers, "unparaphrased": waiting},
            )
            if short_answers == ShortAnswers.PARAPHRASE_FIRST:
                return review.status, (
                    f"Recorded: paraphrase first. The review stays open; an admin runs paraphrasing for {split}, "
                    "which sends it back for a new round."
                )
        result = run_load_check(review, user)
        if not result.get("ok"):
            return review.status, "The split cannot be approved yet. " + " ".join(blockers(review))
    status = evaluate(review, user, load_checked=review.is_primary)
    if status == ReviewStatus.APPROVED:
        return status, f"Review submitted: {split} is approved" + (" for export." if review.is_primary else ".")
    return status, f"Review submitted: {split} was sent back with your notes." if review.is_primary else (
        "Review submitted."
    )


@transaction.atomic
def undo_last(review: Review, user: Any) -> ReviewItem:
    """Take back the reviewer's last decision on an open review: the sample is undecided again, a
    correction's text is restored (as a new recorded revision). Returns the item."""
    review.task_split = _lock_split(review.task_split_id)
    decided = review.items.exclude(verdict=Verdict.PENDING).order_by("-decided_at", "-id").first()
    if decided is None:
        raise ReviewError("Nothing to undo: no sample is decided.")
    item = _lock_item(decided, user)
    before = _item_state(item)
    if item.verdict == Verdict.CORRECTED:
        revision = item.revisions.order_by("-id").first()
        if revision is not None:
            sample = Sample.objects.select_for_update().get(pk=item.sample_id)
            current = {f: getattr(sample, f) for f in revision.before}
            for field, value in revision.before.items():
                setattr(sample, field, value)
            sample.save(update_fields=[*revision.before, "updated_at"])
            SampleRevision.objects.create(
                sample=sample, item=item, editor=user, before=current, after=revision.before, comment="undone"
            )
    item.verdict = Verdict.PENDING
    item.problems = []
    item.comment = ""
    item.decided_at = None
    item.save()
    if item.review.is_primary:
        counts.set_states(Sample.objects.filter(pk=item.sample_id), qc_state=SampleQCState.UNCHECKED)
    audit(
        item.review.task_split_id,
        AuditAction.UNDO,
        user,
        review=item.review,
        item=item,
        sample_id=item.sample_id,
        before=before,
        after=_item_state(item),
    )
    if before["verdict"] == Verdict.CORRECTED:
        run_load_check(item.review, user)
    return item


def apply_decision(
    item: ReviewItem,
    user: Any,
    verdict: str,
    problems: Iterable[str] = (),
    comment: str = "",
    inputs: str | None = None,
    outputs: str | None = None,
    close: bool = True,
) -> ReviewItem:
    """One entry point for web forms and the API: approve, reject, or correct (verdict "corrected")."""
    if verdict == Verdict.CORRECTED:
        return correct(item, user, inputs=inputs, outputs=outputs, comment=comment, close=close)
    if inputs is not None or outputs is not None:
        raise ReviewError('Send corrected inputs/outputs with the verdict "corrected".')
    return decide(item, user, verdict, problems, comment, close=close)
