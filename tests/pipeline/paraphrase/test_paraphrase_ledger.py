"""Every paid answer reaches the ledger: a malformed answer (NUL) is a per-sample failure, and a
cancelled chunk still reads and writes the answers that were already on the wire."""

from __future__ import annotations

import pytest

from annotator.models import TaskSplit
from pipeline.jobs.runner import run_job
from pipeline.models import Job, JobStatus, ParaphraseBudget, ParaphraseCache, ParaphraseState, Sample
from pipeline.paraphrase import runner as paraphrase_run
from pipeline.paraphrase.prompt import Reason
from pipeline.paraphrase.runner import _fan_out, start_paraphrase
from pipeline.paraphrase.tasks import paraphrase_chunk
from tests.factories import AdminFactory, TaskFactory
from tests.pipeline.fake_llm import FakeLLM
from tests.pipeline.paraphrase.test_paraphrase_run import _samples, llm  # noqa: F401 - llm is a fixture

pytestmark = pytest.mark.django_db


def _prices(settings) -> None:
    settings.PARAPHRASE_PRICE_INPUT_PER_MTOK = 1000.0
    settings.PARAPHRASE_PRICE_OUTPUT_PER_MTOK = 1000.0


def test_an_answer_with_a_nul_fails_its_sample_not_the_chunk_and_is_paid_once(llm, settings):  # noqa: F811
    _prices(settings)
    task = TaskFactory(slug="vqa-nul")
    good, bad = _samples(task, [("What is it?", "kite"), ("[nul] Where is it?", "park")])
    parent = start_paraphrase([TaskSplit.objects.get(task=task, split="train")], AdminFactory())
    [chunk] = _fan_out(parent)
    assert run_job(chunk.pk, paraphrase_chunk.body) == JobStatus.SUCCEEDED

    bad.refresh_from_db()
    assert bad.paraphrase_state == ParaphraseState.FALLBACK and bad.paraphrase["reason"] == Reason.MALFORMED
    assert "park" in bad.outputs  # the template answer
    assert "\x00" not in bad.paraphrase["response"] and "\\u0000" in bad.paraphrase["response"]
    assert bad.paraphrase["cost_usd"] > 0
    good.refresh_from_db()
    assert good.paraphrase_state == ParaphraseState.ACCEPTED
    chunk.refresh_from_db()
    ledger = ParaphraseBudget.objects.get(job=parent)
    assert ledger.spent_micro_usd == round(chunk.counters["cost_usd"] * 1e6)
    assert ledger.spent_micro_usd == round((good.paraphrase["cost_usd"] + bad.paraphrase["cost_usd"]) * 1e6)
    assert ParaphraseCache.objects.count() == 1  # the malformed answer is not reused
    # A second run has nothing left to pay for.
    assert len(llm.hits) == 2
    assert not Sample.objects.filter(task=task, paraphrase_state=ParaphraseState.PENDING).exists()


def test_a_cancelled_chunk_writes_the_answers_already_on_the_wire(settings, monkeypatch):
    _prices(settings)
    settings.OPENAI_API_KEY = "test-key"
    settings.PARAPHRASE_CONCURRENCY = 2
    settings.PARAPHRASE_CHUNK_SIZE = 8
    settings.PARAPHRASE_REQUESTS_PER_MINUTE = settings.PARAPHRASE_TOKENS_PER_MINUTE = 0
    task = TaskFactory(slug="vqa-wire")
    _samples(task, [(f"What is thing {i}?", f"thing{i}") for i in range(8)])
    real_stream = paraphrase_run.stream_results

    def cancel_after_the_first_answer(config, requests, **kwargs):
        for number, result in enumerate(real_stream(config, requests, **kwargs)):
            if number == 0:
                Job.objects.filter(pk=parent.pk).update(cancel_requested=True)
            yield result

    monkeypatch.setattr(paraphrase_run, "stream_results", cancel_after_the_first_answer)
    with FakeLLM(latency=0.5) as server:
        settings.OPENAI_BASE_URL = server.base_url
        parent = start_paraphrase([TaskSplit.objects.get(task=task, split="train")], AdminFactory())
        [chunk] = _fan_out(parent)
        assert run_job(chunk.pk, paraphrase_chunk.body) == JobStatus.CANCELLED

    written = Sample.objects.filter(task=task).exclude(paraphrase_state=ParaphraseState.PENDING)
    # Two on the wire at a time: those sent before the cancel was seen are answered; the rest is not sent.
    assert 2 <= len(server.hits) < 8
    assert written.count() == len(server.hits)  # every answer that was paid for is written, none dropped
    chunk.refresh_from_db()
    ledger = ParaphraseBudget.objects.get(job=parent)
    assert ledger.spent_micro_usd == round(sum(s.paraphrase["cost_usd"] for s in written) * 1e6) > 0
    assert ledger.spent_micro_usd == round(chunk.counters["cost_usd"] * 1e6)
    assert ledger.reserved_micro_usd == 0


def test_a_chunk_that_dies_with_requests_on_the_wire_counts_them_as_spent(llm, settings, monkeypatch):  # noqa: F811
    _prices(settings)
    settings.PARAPHRASE_CONCURRENCY = 2
    task = TaskFactory(slug="vqa-died")
    _samples(task, [(f"What is thing {i}?", f"thing{i}") for i in range(4)])
    real_stream = paraphrase_run.stream_results
    recorded: list[str] = []

    def dies_at_the_first_answer(config, requests, on_send=None, **kwargs):
        def recording(key: str) -> None:
            on_send(key)
            # Recorded before the request leaves: the row already says so.
            assert Job.objects.get(pk=chunk.pk).counters[paraphrase_run.ON_THE_WIRE] > 0
            recorded.append(key)

        for _result in real_stream(config, requests, on_send=recording, **kwargs):
            raise RuntimeError("the worker died")  # what a kill does: no answer gets written
        yield from ()

    monkeypatch.setattr(paraphrase_run, "stream_results", dies_at_the_first_answer)
    with FakeLLM(latency=0.3) as server:  # both requests are on the wire when the first answer comes
        settings.OPENAI_BASE_URL = server.base_url
        parent = start_paraphrase([TaskSplit.objects.get(task=task, split="train")], AdminFactory(), budget_usd=100.0)
        [chunk] = _fan_out(parent)
        assert run_job(chunk.pk, paraphrase_chunk.body) == JobStatus.FAILED
        hits = len(server.hits)

    assert 1 <= hits <= len(recorded)  # every request that reached the server was recorded first
    assert not Sample.objects.filter(task=task).exclude(paraphrase_state=ParaphraseState.PENDING).exists()
    chunk.refresh_from_db()
    ledger = ParaphraseBudget.objects.get(job=parent)
    unanswered = chunk.counters[paraphrase_run.UNANSWERED]
    assert ledger.spent_micro_usd == unanswered > 0  # paid, at the reserved worst case, though never written
    assert ledger.reserved_micro_usd == 0 and chunk.counters[paraphrase_run.ON_THE_WIRE] == 0


def test_a_rerun_after_a_kill_counts_the_dead_attempts_requests_on_the_wire(llm, settings):  # noqa: F811
    from datetime import timedelta

    from django.utils import timezone

    from pipeline.jobs.runner import Progress, claim_job
    from pipeline.paraphrase.runner import _reserve

    _prices(settings)
    settings.JOB_STALE_AFTER_SECONDS = 30
    task = TaskFactory(slug="vqa-killed")
    _samples(task, [("What is it?", "kite"), ("Where?", "park")])
    parent = start_paraphrase([TaskSplit.objects.get(task=task, split="train")], AdminFactory(), budget_usd=100.0)
    [chunk] = _fan_out(parent)
    # Attempt 1 reserves for two requests, sends the first (recorded as on the wire), then is SIGKILLed.
    dead = Progress(claim_job(chunk.pk), min_interval=0)
    assert _reserve(parent, [7000, 5000], dead) == 2
    dead.counters[paraphrase_run.ON_THE_WIRE] = 7000
    dead.write_counters()
    Job.objects.filter(pk=chunk.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=60))

    assert run_job(chunk.pk, paraphrase_chunk.body) == JobStatus.SUCCEEDED  # attempt 2 sends both again
    chunk.refresh_from_db()
    ledger = ParaphraseBudget.objects.get(job=parent)
    assert chunk.counters[paraphrase_run.UNANSWERED] == 7000
    assert ledger.spent_micro_usd == 7000 + round(chunk.counters["cost_usd"] * 1e6)
    assert ledger.reserved_micro_usd == 0 and chunk.counters[paraphrase_run.ON_THE_WIRE] == 0
