"""Stage II when things go wrong: a sample written by someone else meanwhile, a chunk re-run after its
worker died (its budget reservation), a runner that raises, and the lock taken when a job starts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotator.models import TaskSplit
from pipeline.jobs.runner import Progress, claim_job, run_job
from pipeline.models import Job, JobStatus, ParaphraseBudget, ParaphraseState, Sample
from pipeline.paraphrase import runner as paraphrase_run
from pipeline.paraphrase.llm import LLMConfig
from pipeline.paraphrase.runner import RESERVED, _fan_out, _reserve, start_paraphrase
from pipeline.paraphrase.tasks import paraphrase_chunk
from tests.factories import AdminFactory, TaskFactory
from tests.pipeline.paraphrase.test_llm_client import _BrokenClient
from tests.pipeline.paraphrase.test_paraphrase_run import _samples, llm  # noqa: F401 - llm is a fixture

pytestmark = pytest.mark.django_db


def _one_chunk(task, budget_usd: float | None = None) -> tuple[Job, Job]:
    parent = start_paraphrase([TaskSplit.objects.get(task=task, split="train")], AdminFactory(), budget_usd=budget_usd)
    [chunk] = _fan_out(parent)
    return parent, chunk


def test_a_sample_written_by_someone_else_meanwhile_is_not_overwritten(llm, monkeypatch):  # noqa: F811
    task = TaskFactory(slug="vqa-race")
    first, second = _samples(task, [("What is it?", "kite"), ("Where?", "park")])
    parent, chunk = _one_chunk(task)
    real_stream = paraphrase_run.stream_results

    def stream_while_another_job_writes(config, requests, **kwargs):
        # After the chunk read its samples, another writer (a second job, a QC correction) settles one.
        Sample.objects.filter(pk=second.pk).update(
            paraphrase_state=ParaphraseState.ACCEPTED, outputs="At the park, written elsewhere."
        )
        yield from real_stream(config, requests, **kwargs)

    monkeypatch.setattr(paraphrase_run, "stream_results", stream_while_another_job_writes)
    assert run_job(chunk.pk, paraphrase_chunk.body) == JobStatus.SUCCEEDED

    second.refresh_from_db()
    assert second.outputs == "At the park, written elsewhere." and second.paraphrase == {}
    first.refresh_from_db()
    assert first.paraphrase_state == ParaphraseState.ACCEPTED and first.paraphrase["job"] == parent.pk
    chunk.refresh_from_db()
    assert (chunk.counters["accepted"], chunk.counters["requests"]) == (1, 2)  # both were sent, one written


def test_a_rerun_chunk_gives_back_what_its_dead_attempt_reserved(llm, settings):  # noqa: F811
    settings.PARAPHRASE_PRICE_INPUT_PER_MTOK = 1000.0
    settings.PARAPHRASE_PRICE_OUTPUT_PER_MTOK = 1000.0
    settings.JOB_STALE_AFTER_SECONDS = 30
    task = TaskFactory(slug="vqa-leak")
    _samples(task, [("What is it?", "kite"), ("Where?", "park")])
    parent, chunk = _one_chunk(task, budget_usd=100.0)

    # Attempt 1 reserves for its two requests, then its worker is killed before any answer is written.
    dead = Progress(claim_job(chunk.pk), min_interval=0)
    assert _reserve(parent, [7000, 5000], dead) == 2
    assert ParaphraseBudget.objects.get(job=parent).reserved_micro_usd == 12000
    Job.objects.filter(pk=chunk.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=60))

    assert run_job(chunk.pk, paraphrase_chunk.body) == JobStatus.SUCCEEDED  # attempt 2
    chunk.refresh_from_db()
    ledger = ParaphraseBudget.objects.get(job=parent)
    assert chunk.attempts == 2 and len(llm.hits) == 2
    assert ledger.reserved_micro_usd == 0 and chunk.counters[RESERVED] == 0
    assert ledger.spent_micro_usd == round(chunk.counters["cost_usd"] * 1e6) > 0


def test_a_runner_that_raises_fails_the_chunk_and_gives_its_reservation_back(llm, settings, monkeypatch):  # noqa: F811
    settings.PARAPHRASE_PRICE_INPUT_PER_MTOK = 1000.0
    task = TaskFactory(slug="vqa-broken")
    _samples(task, [("What is it?", "kite"), ("Where?", "park")])
    parent, chunk = _one_chunk(task, budget_usd=100.0)
    monkeypatch.setattr(LLMConfig, "client", lambda self: _BrokenClient())

    assert run_job(chunk.pk, paraphrase_chunk.body) == JobStatus.FAILED
    chunk.refresh_from_db()
    assert "transport broke" in chunk.error and chunk.result == {}
    assert not Sample.objects.filter(task=task).exclude(paraphrase_state=ParaphraseState.PENDING).exists()
    assert ParaphraseBudget.objects.get(job=parent).reserved_micro_usd == 0 and chunk.counters[RESERVED] == 0


def test_starting_a_job_locks_the_splits_before_it_looks_for_a_running_one(llm):  # noqa: F811
    task = TaskFactory(slug="vqa-lock")
    _samples(task, [("What is it?", "kite")])
    train = TaskSplit.objects.get(task=task, split="train")
    with CaptureQueriesContext(connection) as queries:
        job = start_paraphrase([train], AdminFactory())
    sql = [q["sql"] for q in queries.captured_queries]
    lock = next(i for i, q in enumerate(sql) if "annotator_tasksplit" in q and q.lstrip().upper().startswith("SELECT"))
    look = next(i for i, q in enumerate(sql) if 'FROM "pipeline_job"' in q and q.lstrip().upper().startswith("SELECT"))
    create = next(i for i, q in enumerate(sql) if q.lstrip().upper().startswith('INSERT INTO "PIPELINE_JOB"'))
    assert lock < look < create
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in sql[lock]
    with pytest.raises(ValueError, match=f"Job #{job.pk} is already paraphrasing vqa-lock/train"):
        start_paraphrase([train], AdminFactory())
