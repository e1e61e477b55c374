"""Stage II on real Celery worker processes: a worker killed mid-chunk leaves nothing half-written,
and a new worker finishes the job without paying again for what was already answered."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from annotator.models import TaskSplit
from pipeline.models import Job, JobStatus, ParaphraseCache, ParaphraseState, Sample
from pipeline.paraphrase import prompt as paraphrase
from pipeline.paraphrase.runner import chunks_of, start_paraphrase
from pipeline.samples import counts
from tests.conftest import wait_for
from tests.factories import AdminFactory, TaskFactory
from tests.pipeline.fake_llm import FakeLLM

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PROVENANCE_KEYS = {
    "job",
    "model",
    "prompt_version",
    "attempts",
    "tokens_in",
    "tokens_out",
    "latency_s",
    "reason",
    "raw",
}


def _worker_env(server: FakeLLM) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": server.base_url,
        "PARAPHRASE_MODEL": "fake-model",
        "PARAPHRASE_CHUNK_SIZE": "5",
        "PARAPHRASE_CONCURRENCY": "2",
        "PARAPHRASE_REQUESTS_PER_MINUTE": "0",
        "PARAPHRASE_TOKENS_PER_MINUTE": "0",
        "JOB_STALE_AFTER_SECONDS": "3",
    }


def _check_whole(sample: Sample) -> None:
    """A sample is either untouched (pending) or complete: output, state and provenance together."""
    if sample.paraphrase_state == ParaphraseState.PENDING:
        assert sample.paraphrase == {} and sample.outputs == sample.original_output, sample.source_id
        return
    assert sample.paraphrase_state == ParaphraseState.ACCEPTED, sample.source_id
    assert sample.outputs == f"Based on the image, the answer is {sample.original_output}."
    assert set(sample.paraphrase) >= PROVENANCE_KEYS, sample.paraphrase
    key = paraphrase.cache_key("fake-model", sample.inputs, sample.original_output, {})
    assert ParaphraseCache.objects.filter(key=key).exists(), "answer written without its cache row"


def test_killed_worker_mid_chunk_leaves_nothing_half_written_and_rerun_finishes(celery_worker_factory, settings):
    settings.JOB_STALE_AFTER_SECONDS = 3
    settings.OPENAI_API_KEY = "test-key"  # the web side decides model and key-or-template at start
    settings.PARAPHRASE_MODEL = "fake-model"
    count = 30
    with FakeLLM(latency=0.3) as server:
        first = celery_worker_factory(**_worker_env(server))
        task = TaskFactory(slug="vqa-kill")
        counts.insert_samples([
            Sample(task=task, split="train", source_id=f"s{i:02d}", inputs=f"What is object {i}?", outputs=f"thing{i}",
                   original_output=f"thing{i}", paraphrase_state=ParaphraseState.PENDING)
            for i in range(count)
        ])  # fmt: skip
        job = start_paraphrase([TaskSplit.objects.get(task=task, split="train")], AdminFactory())

        wait_for(
            lambda: Sample.objects.filter(task=task, paraphrase_state=ParaphraseState.ACCEPTED).count() >= 8,
            timeout=90,
            interval=0.05,
            what="some answers written",
        )
        first.kill()

        written = list(Sample.objects.filter(task=task))
        for sample in written:
            _check_whole(sample)
        done_before = {s.inputs for s in written if s.paraphrase_state == ParaphraseState.ACCEPTED}
        assert 8 <= len(done_before) < count
        assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING

        time.sleep(3.5)  # the killed worker's heartbeats go stale
        celery_worker_factory(**_worker_env(server))
        wait_for(
            lambda: Job.objects.get(pk=job.pk).is_terminal, timeout=120, what="the job to finish on the new worker"
        )

        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED, job.error
        assert job.attempts == 2
        assert (job.done, job.total) == (count, count)
        assert job.counters["accepted"] == count and job.counters["fallback"] == 0
        assert [c.status for c in chunks_of(job)] == [JobStatus.SUCCEEDED] * 6
        final = list(Sample.objects.filter(task=task))
        assert len(final) == count
        for sample in final:
            _check_whole(sample)
            assert sample.paraphrase_state == ParaphraseState.ACCEPTED
        assert counts.stored() == counts.counted()  # nothing the killed worker half-wrote was counted
        assert TaskSplit.objects.get(task=task, split="train").paraphrase_accepted == count

        # None paid twice: what was written before the kill was never requested again. Only requests in
        # flight when the worker died (the concurrency, 2) or answered but not yet written (results are
        # written every 0.25 s; at 0.3 s a request and 2 in flight, at most 2 more) were sent again.
        hits = Counter(h.question for h in server.hits)
        assert all(hits[question] == 1 for question in done_before)
        again = {q for q, n in hits.items() if n > 1}
        assert len(again) <= 4 and not (again & done_before)
        assert ParaphraseCache.objects.count() == count


def test_a_second_worker_takes_chunks_in_parallel(celery_worker_factory, settings):
    settings.OPENAI_API_KEY = "test-key"
    settings.PARAPHRASE_MODEL = "fake-model"
    count = 24
    with FakeLLM(latency=0.3) as server:
        env = {**_worker_env(server), "PARAPHRASE_CHUNK_SIZE": "4"}
        celery_worker_factory(**env)
        celery_worker_factory(**env)
        task = TaskFactory(slug="vqa-two")
        counts.insert_samples([
            Sample(task=task, split="train", source_id=f"t{i:02d}", inputs=f"What is shape {i}?", outputs=f"shape{i}",
                   original_output=f"shape{i}", paraphrase_state=ParaphraseState.PENDING)
            for i in range(count)
        ])  # fmt: skip
        job = start_paraphrase([TaskSplit.objects.get(task=task, split="train")], AdminFactory())
        wait_for(lambda: Job.objects.get(pk=job.pk).is_terminal, timeout=120, what="the job to finish")

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.counters["accepted"] == count and len(server.hits) == count
    # Each worker keeps at most 2 requests in flight; the server saw more at once, so both worked on chunks.
    assert server.max_in_flight > 2
    assert server.max_in_flight <= 4
