"""Recovery of the Job mechanism: redelivery to a job whose holder just died, a heartbeat that outlives
database errors, and a worker whose claim was taken over (a zombie) that can no longer write."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.utils import timezone

from config.celery import app as celery_app
from pipeline.jobs import runner as jobs
from pipeline.jobs.runner import JobLost, Progress, _finish, _Heartbeat, claim_job, job_task, run_job
from pipeline.models import Job, JobKind, JobStatus
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db


@job_task(queue="default")
def count_to_three(job: Job, progress: Progress) -> dict[str, Any]:
    """Counts to three."""
    progress.update(done=0, total=3, force=True)
    for _ in range(3):
        progress.add(1)
    return {"counted": 3}


def _running_job(heartbeat_age: float = 0.0, attempts: int = 1) -> Job:
    """A job a worker claimed (attempt `attempts`), its heartbeat `heartbeat_age` seconds old."""
    now = timezone.now()
    return Job.objects.create(
        kind=JobKind.DEMO,
        task_name=count_to_three.name,
        status=JobStatus.RUNNING,
        attempts=attempts,
        started_at=now - timedelta(seconds=heartbeat_age),
        heartbeat_at=now - timedelta(seconds=heartbeat_age),
        total=3,
    )


@pytest.fixture
def sent(monkeypatch) -> list[tuple[int, float | None]]:
    calls: list[tuple[int, float | None]] = []
    monkeypatch.setattr(jobs, "send_job", lambda job, countdown=None: calls.append((job.pk, countdown)))
    return calls


def test_a_delivery_that_finds_a_fresh_dead_holder_is_sent_again_and_a_later_one_finishes_the_job(settings, sent):
    settings.JOB_STALE_AFTER_SECONDS = 30
    job = _running_job(heartbeat_age=1)  # its worker's pool process was just killed: no thread runs it

    assert count_to_three(job.pk) is None  # the redelivered message cannot claim it yet
    assert sent == [(job.pk, 31)]  # ... so it comes back once the heartbeat would be stale
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)

    # That later delivery: nobody refreshed the heartbeat, so it claims the job and finishes it.
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=31))
    assert count_to_three(job.pk) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert (job.status, job.attempts, job.done, job.result) == (JobStatus.SUCCEEDED, 2, 3, {"counted": 3})
    assert count_to_three(job.pk) is None  # a leftover message finds it finished and is dropped
    assert sent == [(job.pk, 31)]


def test_finished_or_cancel_requested_jobs_and_eager_mode_are_not_sent_again(sent):
    done = _running_job()
    Job.objects.filter(pk=done.pk).update(status=JobStatus.SUCCEEDED)
    cancelling = _running_job()
    Job.objects.filter(pk=cancelling.pk).update(cancel_requested=True)
    assert count_to_three(done.pk) is None and count_to_three(cancelling.pk) is None
    held = _running_job()
    celery_app.conf.task_always_eager = True
    try:
        assert count_to_three(held.pk) is None  # in-process: sending again would recurse
    finally:
        celery_app.conf.task_always_eager = False
    assert sent == []


@pytest.mark.django_db(transaction=True)
def test_heartbeat_keeps_beating_after_a_database_error(monkeypatch):
    job = _running_job(heartbeat_age=3600)
    real_now = timezone.now
    failures: list[int] = []

    class FlakyClock:
        @staticmethod
        def now():
            if threading.current_thread().name.endswith("-heartbeat") and not failures:
                failures.append(1)
                raise OperationalError("server closed the connection unexpectedly")
            return real_now()

    monkeypatch.setattr(jobs, "timezone", FlakyClock)
    beat = _Heartbeat(job.pk, attempt=1, interval=0.05)
    beat.start()
    try:
        wait_for(
            lambda: Job.objects.get(pk=job.pk).heartbeat_at > real_now() - timedelta(seconds=60),
            timeout=20,
            interval=0.05,
            what="a heartbeat after the failed one",
        )
    finally:
        beat.stopped.set()
        beat.join(timeout=5)
    assert failures == [1]


def test_a_worker_whose_claim_was_taken_over_cannot_write(settings):
    settings.JOB_STALE_AFTER_SECONDS = 30
    job = _running_job(heartbeat_age=60)  # attempt 1 looks dead...
    zombie = Progress(Job.objects.get(pk=job.pk), min_interval=0)
    owner_job = claim_job(job.pk)  # ...so attempt 2 takes it over
    assert owner_job is not None and owner_job.attempts == 2
    owner = Progress(owner_job, min_interval=0)
    owner.update(done=2, total=3, message="owner at 2")

    with pytest.raises(JobLost):
        zombie.update(done=1, message="zombie at 1")  # attempt 1 was only slow; it wakes up
    with pytest.raises(JobLost):
        zombie.write_counters()
    _finish(job.pk, 1, JobStatus.FAILED, message="zombie failed")
    job.refresh_from_db()
    assert (job.status, job.done, job.message, job.attempts) == (JobStatus.RUNNING, 2, "owner at 2", 2)

    _finish(job.pk, 2, JobStatus.SUCCEEDED, done=3)
    job.refresh_from_db()
    assert (job.status, job.done) == (JobStatus.SUCCEEDED, 3)


def test_run_job_of_a_taken_over_attempt_stops_without_recording_an_outcome():
    job = Job.objects.create(kind=JobKind.DEMO, task_name=count_to_three.name, total=3)

    def body(claimed: Job, progress: Progress) -> dict[str, Any]:
        # While this attempt runs, another worker takes the job for dead and claims it (attempt 2).
        Job.objects.filter(pk=claimed.pk).update(attempts=2, message="attempt 2 running")
        progress.update(done=1, force=True)
        return {"never": "recorded"}

    def quiet_body(claimed: Job, progress: Progress) -> dict[str, Any]:
        Job.objects.filter(pk=claimed.pk).update(attempts=claimed.attempts + 1, message="attempt 2 running")
        return {"never": "recorded"}

    assert run_job(job.pk, body) is None
    job.refresh_from_db()
    assert (job.status, job.done, job.message, job.result) == (JobStatus.RUNNING, 0, "attempt 2 running", {})

    other = Job.objects.create(kind=JobKind.DEMO, task_name=count_to_three.name, total=3)
    run_job(other.pk, quiet_body)  # its body ends without a write: the outcome is still not recorded
    other.refresh_from_db()
    assert (other.status, other.result, other.message) == (JobStatus.RUNNING, {}, "attempt 2 running")
