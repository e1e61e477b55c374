"""One lock order for QC decisions and paraphrase writes (pipeline.samples.locks): no deadlock.

A reviewer's decision holds the split and then writes the sample; a paraphrase write of that sample
used to lock the sample first and then wait for the split: each waited for the other (PostgreSQL
aborts one of them). Real row locks need PostgreSQL; two threads, two connections."""

from __future__ import annotations

import os
import threading
import time

import pytest
from django.db import connection

from annotator.models import QCStatus
from pipeline.jobs.runner import Progress
from pipeline.models import Job, JobKind, JobStatus, ParaphraseState, Sample, SampleQCState
from pipeline.paraphrase import runner
from pipeline.samples import counts
from qc import review
from qc.models import Verdict
from tests.qc.conftest import make_split

pytestmark = pytest.mark.django_db(transaction=True)


def needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        message = "row locks need PostgreSQL: set DATABASE_URL=postgres://…"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def test_a_paraphrase_write_and_a_qc_decision_on_the_same_sample_do_not_deadlock(monkeypatch):
    needs_postgresql()
    s = make_split(12)
    rev = review.start_review(s.split, s.reviewer)
    item = rev.items.order_by("position").first()
    counts.set_states(Sample.objects.filter(pk=item.sample_id), paraphrase_state=ParaphraseState.PENDING)
    parent = Job.objects.create(kind=JobKind.PARAPHRASE, task_name="x", status=JobStatus.RUNNING, attempts=1)

    holds_split = threading.Event()
    real_stale_reason = review.stale_reason

    def slow_stale_reason(rev):  # runs in decide() after the split is locked, before the sample is written
        holds_split.set()
        time.sleep(1.5)  # the paraphrase write runs meanwhile
        return real_stale_reason(rev)

    monkeypatch.setattr(review, "stale_reason", slow_stale_reason)
    errors: list[BaseException] = []

    def decide() -> None:
        try:
            review.decide(item, s.reviewer, Verdict.APPROVED)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def paraphrase() -> None:
        try:
            sample = Sample.objects.select_related("task").get(pk=item.sample_id)
            writer = runner._Writer(parent, Progress(parent, min_interval=0))
            it = runner._Item(sample, sample.inputs, sample.original_output, "en", {}, "")
            writer.add(it, ParaphraseState.ACCEPTED, "The answer, as a sentence.", {})
            assert holds_split.wait(10)
            writer.flush()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=decide), threading.Thread(target=paraphrase)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    sample = Sample.objects.get(pk=item.sample_id)
    assert (sample.paraphrase_state, sample.qc_state) == (ParaphraseState.ACCEPTED, SampleQCState.APPROVED)
    s.split.refresh_from_db()
    assert s.split.qc_status == QCStatus.PENDING  # the paraphrase wrote after the decision: back to review
