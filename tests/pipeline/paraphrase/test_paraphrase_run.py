"""Stage II end to end, in-process jobs, against a real OpenAI-compatible HTTP server on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from django.db import connection

from annotator.models import TaskSplit
from pipeline.jobs.runner import request_cancel, run_job
from pipeline.models import (
    Job,
    JobStatus,
    ParaphraseBudget,
    ParaphraseCache,
    ParaphraseState,
    Sample,
    SampleQCState,
)
from pipeline.paraphrase import prompt as paraphrase
from pipeline.paraphrase.prompt import Reason
from pipeline.paraphrase.runner import _fan_out, chunks_of, estimate, start_paraphrase
from pipeline.paraphrase.tasks import paraphrase_chunk
from pipeline.samples import counts
from tests.conftest import wait_for
from tests.factories import AdminFactory, TaskFactory
from tests.pipeline.fake_llm import FakeLLM

pytestmark = pytest.mark.django_db

# (question, original answer, expected state, expected reason, expected server hits for this question)
CASES = [
    ("What is the man holding?", "frisbee", "accepted", "", 1),
    ("How many dogs are there? [429]", "2", "accepted", "", 2),
    ("Is it sunny? [500]", "yes", "accepted", "", 2),
    ("What colour is the car? [junk]", "red", "accepted", "", 2),
    ("Where was this taken? [slow-once]", "park", "accepted", "", 2),
    ("[refuse] What is on the table?", "cup", "fallback", Reason.APOLOGY, 1),
    ("[wrong] How many birds?", "3", "fallback", Reason.NUMBER, 1),
    ("[flip] Is the door open?", "yes", "fallback", Reason.YES_NO, 1),
    ("[long] What is behind the house?", "tree", "fallback", Reason.TOO_LONG, 1),
    ("[french] What animal is it?", "cat", "fallback", Reason.WRONG_LANGUAGE, 1),
    ("[inject] What is the pet?", "dog", "fallback", Reason.INJECTION, 1),
    ("[unanswerable] What is parked?", "car", "fallback", Reason.UNANSWERABLE, 1),
    ("[drop] What is on the water?", "boat", "fallback", Reason.DROPPED, 1),
    ("[500-always] What vehicle is this?", "bus", "fallback", Reason.REQUEST_FAILED, 4),
]


@pytest.fixture
def llm(settings) -> Iterator[FakeLLM]:
    with FakeLLM(slow_seconds=1.5, retry_after=0.2) as server:
        settings.OPENAI_API_KEY = "test-key"
        settings.OPENAI_BASE_URL = server.base_url
        settings.PARAPHRASE_MODEL = "fake-model"
        settings.PARAPHRASE_TIMEOUT_SECONDS = 0.5
        settings.PARAPHRASE_MAX_ATTEMPTS = 4
        settings.PARAPHRASE_BACKOFF_BASE_SECONDS = 0.02
        settings.PARAPHRASE_BACKOFF_MAX_SECONDS = 0.1
        settings.PARAPHRASE_REQUESTS_PER_MINUTE = 0
        settings.PARAPHRASE_TOKENS_PER_MINUTE = 0
        settings.PARAPHRASE_CHUNK_SIZE = 4
        settings.JOB_PROGRESS_MIN_INTERVAL = 0
        yield server


def _samples(task, rows: list[tuple[str, str]], split: str = "train") -> list[Sample]:
    counts.insert_samples([
        Sample(
            task=task,
            split=split,
            source_id=f"s{i}",
            inputs=q,
            outputs=a,
            original_output=a,
            paraphrase_state=ParaphraseState.PENDING,
        )
        for i, (q, a) in enumerate(rows)
    ])
    return list(Sample.objects.filter(task=task, split=split).order_by("id"))


def _run(eager_jobs, task_splits, **kwargs) -> Job:
    with eager_jobs():
        job = start_paraphrase(task_splits, AdminFactory(), **kwargs)
    job.refresh_from_db()
    return job


def test_every_sample_ends_accepted_or_fallback_none_lost_none_paid_twice(llm, eager_jobs):
    task = TaskFactory(slug="vqa-test")
    rows = [(q, a) for q, a, *_ in CASES] + [("What is the man holding?", "frisbee")]  # a duplicate request
    samples = _samples(task, rows)
    train = TaskSplit.objects.get(task=task, split="train")

    job = _run(eager_jobs, [train])

    assert job.status == JobStatus.SUCCEEDED, job.error
    # 15 samples in chunks of 4: 4 + 4 + 4 + 3.
    assert [c.total for c in chunks_of(job)] == [4, 4, 4, 3]
    assert all(c.status == JobStatus.SUCCEEDED for c in chunks_of(job))
    by_id = {s.pk: s for s in Sample.objects.filter(task=task)}
    for sample, (question, answer, state, reason, _hits) in zip(samples, CASES, strict=False):
        got = by_id[sample.pk]
        assert (got.paraphrase_state, got.paraphrase["reason"]) == (state, reason), question
        assert got.original_output == answer
        if state == "accepted":
            assert got.outputs == f"Based on the image, the answer is {answer}."
        else:
            assert got.outputs == f"The answer is {answer}."
        assert got.paraphrase["model"] == "fake-model"
        assert got.paraphrase["prompt_version"] == paraphrase.PROMPT_VERSION
        assert got.paraphrase["attempts"] == _hits
    duplicate = by_id[samples[-1].pk]
    assert duplicate.paraphrase_state == "accepted" and duplicate.paraphrase["cached"] is True

    # None lost: every selected sample has an outcome; the counters add up to 15.
    assert not Sample.objects.filter(task=task, paraphrase_state=ParaphraseState.PENDING).exists()
    c = job.counters
    assert (c["accepted"], c["fallback"], c["failed"]) == (6, 9, 0)
    assert (job.done, job.total) == (15, 15)
    # Server hits per question as listed in CASES (the duplicate adds none).
    for question, _a, _s, _r, hits in CASES:
        assert len(llm.hits_for(question)) == (hits if question != CASES[0][0] else 1), question
    assert len(llm.hits) == sum(case[4] for case in CASES) == 21
    assert c["requests"] == 21 and c["retries"] == 21 - 14 and c["cached"] == 1
    # None paid twice: one cache row per question that got an answer (13; the 500-always one got none).
    assert ParaphraseCache.objects.count() == 13
    assert c["tokens_in"] == sum(row.tokens_in for row in ParaphraseCache.objects.all())
    # The raw response is kept for audit.
    assert '"chat.completion"' in by_id[samples[6].pk].paraphrase["raw"]
    assert by_id[samples[6].pk].paraphrase["response"] == "There are 7 of them in the picture."

    # Re-running skips what is done: no request at all.
    before = len(llm.hits)
    again = _run(eager_jobs, [train])
    assert again.status == JobStatus.SUCCEEDED and again.total == 0
    assert len(llm.hits) == before

    # A sample put back to pending is answered from the cache, not paid again.
    counts.set_states(Sample.objects.filter(pk=samples[6].pk), paraphrase_state=ParaphraseState.PENDING, paraphrase={})
    third = _run(eager_jobs, [train])
    assert len(llm.hits) == before
    assert third.counters["cached"] == 1 and third.counters["fallback"] == 1
    assert Sample.objects.get(pk=samples[6].pk).paraphrase["reason"] == Reason.NUMBER


def test_retry_request_failures_sends_only_those_again(llm, eager_jobs):
    task = TaskFactory(slug="vqa-retry")
    samples = _samples(task, [("[500-always] What vehicle?", "bus"), ("What is it?", "kite")])
    train = TaskSplit.objects.get(task=task, split="train")
    _run(eager_jobs, [train])
    assert len(llm.hits) == 4 + 1
    job = _run(eager_jobs, [train], retry_request_failures=True)
    assert job.total == 1
    assert len(llm.hits) == 5 + 4  # only the failed one was tried again
    assert Sample.objects.get(pk=samples[1].pk).paraphrase_state == "accepted"


def test_without_api_key_the_template_is_used_and_nothing_is_sent(llm, eager_jobs, settings):
    settings.OPENAI_API_KEY = ""
    task = TaskFactory(slug="vqa-nokey")
    _samples(task, [("What is it?", "kite"), ("How many?", "4"), ("Anything?", "")])
    train = TaskSplit.objects.get(task=task, split="train")
    assert estimate([train]).has_api_key is False and estimate([train]).cost_usd == 0

    job = _run(eager_jobs, [train])

    assert job.status == JobStatus.SUCCEEDED
    assert "no API key" in job.message and job.params["template_only"] is True
    assert llm.hits == []
    got = {s.original_output: s for s in Sample.objects.filter(task=task)}
    assert (got["kite"].outputs, got["kite"].paraphrase["reason"]) == ("The answer is kite.", Reason.NO_API_KEY)
    assert got["4"].outputs == "The answer is 4."
    assert got[""].paraphrase_state == ParaphraseState.FAILED  # nothing to build a sentence from
    assert (job.counters["fallback"], job.counters["failed"], job.counters["cost_usd"]) == (2, 1, 0)


def test_rewriting_outputs_of_an_approved_or_in_review_split_reopens_it_for_review(llm, eager_jobs, settings):
    from annotator.models import QCStatus

    settings.OPENAI_API_KEY = ""
    task = TaskFactory(slug="vqa-approved")
    _samples(task, [("What is it?", "kite")])
    _samples(task, [("What is that?", "ball")], split="val")
    _samples(task, [("What is there?", "cup")], split="test")
    train, val, test = (TaskSplit.objects.get(task=task, split=name) for name in ("train", "val", "test"))
    TaskSplit.objects.filter(pk__in=[train.pk, val.pk]).update(qc_status=QCStatus.APPROVED)
    TaskSplit.objects.filter(pk=test.pk).update(qc_status=QCStatus.IN_REVIEW)  # a reviewer is looking at it

    job = _run(eager_jobs, [train, test])

    assert job.status == JobStatus.SUCCEEDED
    for split in (train, val, test):
        split.refresh_from_db()
    assert train.qc_status == QCStatus.PENDING and f"paraphrase job #{job.pk}" in train.qc_notes
    assert test.qc_status == QCStatus.PENDING and f"paraphrase job #{job.pk}" in test.qc_notes
    assert val.qc_status == QCStatus.APPROVED  # untouched split keeps its approval


def test_a_sample_corrected_by_qc_is_never_rewritten(llm, eager_jobs, settings):
    settings.OPENAI_API_KEY = ""  # the template sentence: no server needed
    task = TaskFactory(slug="vqa-corrected")
    corrected, plain = _samples(task, [("What is it?", "kite"), ("What is that?", "ball")])
    counts.set_states(
        Sample.objects.filter(pk=corrected.pk), outputs="It is a red kite.", qc_state=SampleQCState.CORRECTED
    )
    train = TaskSplit.objects.get(task=task, split="train")

    plan = estimate([train])
    assert (plan.samples, plan.kept_corrected) == (1, 1)
    job = _run(eager_jobs, [train])

    assert job.status == JobStatus.SUCCEEDED and job.total == 1
    corrected.refresh_from_db()
    plain.refresh_from_db()
    assert corrected.outputs == "It is a red kite." and corrected.qc_state == SampleQCState.CORRECTED
    assert plain.paraphrase_state == ParaphraseState.FALLBACK and plain.outputs != "ball"


def test_a_sample_corrected_after_the_fan_out_is_left_alone(llm, settings):
    settings.PARAPHRASE_CHUNK_SIZE = 10
    task = TaskFactory(slug="vqa-corrected-late")
    first, second = _samples(task, [("What is it?", "kite"), ("Where?", "park")])
    parent = start_paraphrase([TaskSplit.objects.get(task=task, split="train")], AdminFactory())
    [chunk] = _fan_out(parent)
    counts.set_states(Sample.objects.filter(pk=first.pk), outputs="A kite.", qc_state=SampleQCState.CORRECTED)

    assert run_job(chunk.pk, paraphrase_chunk.body) == JobStatus.SUCCEEDED
    assert len(llm.hits) == 1  # only the uncorrected sample was sent
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.outputs == "A kite." and second.paraphrase_state == ParaphraseState.ACCEPTED


def test_budget_cap_stops_paying_and_leaves_the_rest_pending(llm, eager_jobs, settings):
    settings.PARAPHRASE_PRICE_INPUT_PER_MTOK = 1000.0  # 1000 micro-dollars a token, to make small sums
    settings.PARAPHRASE_PRICE_OUTPUT_PER_MTOK = 1000.0
    settings.PARAPHRASE_MAX_OUTPUT_TOKENS = 100
    settings.PARAPHRASE_CHUNK_SIZE = 10
    task = TaskFactory(slug="vqa-budget")
    rows = [(f"What is item {i}?", "kite") for i in range(5)]
    _samples(task, rows)
    train = TaskSplit.objects.get(task=task, split="train")
    # Worst case of one request: its prompt's UTF-8 bytes (+16 per message) plus the full 100 output
    # tokens, at $0.001 a token. The five prompts differ in one digit, so they have the same size.
    messages = paraphrase.build_messages(rows[0][0], "kite")
    prompt_bytes = sum(len(m["content"].encode()) for m in messages)
    worst_usd = (prompt_bytes + 2 * 16 + 100) * 0.001
    budget = round(2.5 * worst_usd, 6)  # room for two worst cases, not three

    job = _run(eager_jobs, [train], budget_usd=budget)

    assert job.status == JobStatus.SUCCEEDED
    assert len(llm.hits) == 2
    assert Sample.objects.filter(task=task, paraphrase_state="accepted").count() == 2
    assert Sample.objects.filter(task=task, paraphrase_state="pending").count() == 3
    assert job.counters["left_pending"] == 3 and "budget reached" in job.message
    ledger = ParaphraseBudget.objects.get(job=job)
    assert ledger.reserved_micro_usd == 0
    assert 0 < ledger.spent_micro_usd <= budget * 1e6
    assert ledger.spent_micro_usd == round(job.counters["cost_usd"] * 1e6)

    rest = _run(eager_jobs, [train])  # no cap: the rest is done
    assert rest.total == 3 and len(llm.hits) == 5
    assert not Sample.objects.filter(task=task, paraphrase_state="pending").exists()


def test_estimate_counts_pending_samples_tokens_and_cost(llm, settings):
    settings.PARAPHRASE_PRICE_INPUT_PER_MTOK = 2.0
    settings.PARAPHRASE_PRICE_OUTPUT_PER_MTOK = 4.0
    settings.PARAPHRASE_EST_OUTPUT_TOKENS = 30
    task = TaskFactory(slug="vqa-est")
    _samples(task, [("abcd" * 10, "yes"), ("efgh" * 5, "no")])
    counts.set_states(Sample.objects.filter(task=task, original_output="no"), paraphrase_state=ParaphraseState.ACCEPTED)
    train = TaskSplit.objects.get(task=task, split="train")
    plan = estimate([train])
    fixed = paraphrase.estimate_prompt_tokens(0, 0)
    assert plan.samples == 1
    assert plan.tokens_in == fixed + (40 + 3) // 4
    assert plan.tokens_out == 30
    assert plan.cost_usd == round((plan.tokens_in * 2.0 + 30 * 4.0) / 1e6, 4)
    assert plan.model == "fake-model" and plan.has_api_key


def test_identical_requests_share_a_chunk_and_context_reaches_the_prompt(llm, eager_jobs, settings):
    settings.PARAPHRASE_CHUNK_SIZE = 2
    task = TaskFactory(slug="vqa-dup")
    a, b, c, d = _samples(task, [("What is it?", "kite"), ("Where?", "park"), ("Who?", "man"), ("What is it?", "kite")])
    Sample.objects.filter(pk=c.pk).update(meta={"captions": ["A man by a STOP sign."], "ocr_tokens": ["STOP"]})

    job = _run(eager_jobs, [TaskSplit.objects.get(task=task, split="train")])

    # The duplicate of sample a joins a's chunk (sent once), although it comes last by id.
    assert [c.params["sample_ids"] for c in chunks_of(job)] == [[a.pk, d.pk], [b.pk, c.pk]]
    assert len(llm.hits) == 3 and job.counters["cached"] == 1
    [who] = llm.hits_for("Who?")
    assert who.data == {"question": "Who?", "answer": "man", "image_captions": ["A man by a STOP sign."],
                        "ocr_tokens": ["STOP"]}  # fmt: skip
    assert Sample.objects.get(pk=d.pk).paraphrase["cached"] is True


def test_chunks_of_a_cancelled_job_send_nothing(llm, settings):
    settings.PARAPHRASE_CHUNK_SIZE = 1
    task = TaskFactory(slug="vqa-cancel")
    _samples(task, [("What is it?", "kite"), ("Where?", "park")])
    parent = start_paraphrase([TaskSplit.objects.get(task=task, split="train")], AdminFactory())
    first, second = _fan_out(parent)  # as the parent does when a worker runs it

    assert run_job(first.pk, paraphrase_chunk.body) == JobStatus.SUCCEEDED
    assert len(llm.hits) == 1
    request_cancel(parent)  # queued parent: cancelled at once
    assert run_job(second.pk, paraphrase_chunk.body) == JobStatus.CANCELLED
    assert len(llm.hits) == 1
    states = dict(Sample.objects.filter(task=task).values_list("inputs", "paraphrase_state"))
    assert states == {"What is it?": "accepted", "Where?": "pending"}
    assert Sample.objects.get(task=task, inputs="What is it?").paraphrase["outcome"] == "accepted"


@pytest.mark.django_db(transaction=True)
def test_cancelling_the_job_stops_a_running_chunk_and_keeps_what_it_wrote(settings):
    settings.OPENAI_API_KEY = "test-key"
    settings.PARAPHRASE_CONCURRENCY = 1
    settings.PARAPHRASE_REQUESTS_PER_MINUTE = settings.PARAPHRASE_TOKENS_PER_MINUTE = 0
    task = TaskFactory(slug="vqa-stop")
    rows = [(f"What is thing {i}?", f"thing{i}") for i in range(8)]
    _samples(task, rows)
    with FakeLLM(latency=0.3) as server:
        settings.OPENAI_BASE_URL = server.base_url
        parent = start_paraphrase([TaskSplit.objects.get(task=task, split="train")], AdminFactory())
        [chunk] = _fan_out(parent)
        outcome: list[str | None] = []

        def work() -> None:
            try:
                outcome.append(run_job(chunk.pk, paraphrase_chunk.body))
            finally:
                connection.close()

        worker = threading.Thread(target=work)
        worker.start()
        wait_for(lambda: Sample.objects.filter(task=task, paraphrase_state="accepted").exists(), what="a first answer")
        Job.objects.filter(pk=parent.pk).update(cancel_requested=True)
        worker.join(timeout=30)

    assert outcome == [JobStatus.CANCELLED]
    accepted = Sample.objects.filter(task=task, paraphrase_state="accepted").count()
    pending = Sample.objects.filter(task=task, paraphrase_state="pending").count()
    assert accepted >= 1 and pending >= 1 and accepted + pending == 8
    assert len(server.hits) < 8  # requests stopped; one sent at a time, 0.3 s each
