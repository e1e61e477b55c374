"""The Job mechanism in-process: states, errors, throttled progress, cancel, claims, stale jobs, API scope."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pipeline.jobs import runner as jobs
from pipeline.jobs.runner import (
    JobCancelled,
    Progress,
    claim_job,
    job_task,
    request_cancel,
    requeue_stale_jobs,
    run_job,
)
from pipeline.models import Job, JobKind, JobStatus
from tests.factories import AdminFactory, AnnotatorFactory, TaskFactory

pytestmark = pytest.mark.django_db

body_calls: list[int] = []


@job_task(queue="default")
def count_to_five(job: Job, progress: Progress) -> dict[str, Any]:
    """A body that records each call and counts to five."""
    body_calls.append(job.pk)
    progress.update(done=0, total=5, message="counting", force=True)
    for _ in range(5):
        progress.add(1, counted=1)
    return {"counted": 5}


def _job(**fields: Any) -> Job:
    defaults = {"kind": JobKind.DEMO, "task_name": count_to_five.name, "total": 5}
    return Job.objects.create(**{**defaults, **fields})


def _updates(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")]


@pytest.fixture(autouse=True)
def _no_calls() -> None:
    body_calls.clear()


def test_start_job_creates_a_queued_row_and_enqueues_only_on_commit(django_capture_on_commit_callbacks, monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(jobs, "send_job", lambda job: sent.append(job.pk))
    admin, task = AdminFactory(), TaskFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = jobs.start_job(JobKind.IMPORT, count_to_five.name, user=admin, params={"n": 1}, total=5, for_task=task)
        assert sent == []
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert (job.status, job.queue, job.task_name, job.params, job.total) == (
        JobStatus.QUEUED,
        "default",
        "tests.pipeline.jobs.test_jobs.count_to_five",
        {"n": 1},
        5,
    )
    assert (job.created_by, job.task, job.attempts, job.started_at) == (admin, task, 0, None)
    callbacks[0]()
    assert sent == [job.pk]


def test_eager_job_runs_queued_to_succeeded(eager_jobs):
    with eager_jobs():
        job = jobs.start_job(JobKind.DEMO, count_to_five.name, user=AdminFactory())
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert (job.done, job.total, job.percent) == (5, 5, 100.0)
    assert job.counters == {"counted": 5}
    assert job.result == {"counted": 5}
    assert job.attempts == 1 and job.error == ""
    assert job.started_at <= job.finished_at
    assert body_calls == [job.pk]


def test_failure_is_recorded_readably_with_the_progress_made():
    def body(job: Job, progress: Progress) -> None:
        progress.update(total=10, force=True)
        progress.add(3)
        raise ValueError("row 4 has no image")

    job = _job(total=10)
    assert run_job(job.pk, body) == JobStatus.FAILED
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error == "ValueError: row 4 has no image"
    assert job.message == "Failed: ValueError: row 4 has no image"
    assert (job.done, job.total) == (3, 10)
    assert job.finished_at is not None


def test_progress_writes_are_throttled(settings, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(jobs.time, "monotonic", lambda: clock[0])
    job = _job(status=JobStatus.RUNNING, total=100)
    progress = Progress(job, min_interval=0.5)
    with CaptureQueriesContext(connection) as queries:
        progress.add(1)  # first write goes through
        for _ in range(49):
            progress.add(1)  # same instant: throttled
        clock[0] += 0.4
        progress.add(1)  # 0.4 s later: still throttled
        clock[0] += 0.2
        progress.add(1)  # 0.6 s after the first write: written
        progress.update(message="almost", force=True)  # forced
    assert len(_updates(queries)) == 3
    job.refresh_from_db()
    assert (job.done, job.message) == (52, "almost")


def test_cancel_a_queued_job_means_it_never_runs():
    job = _job()
    request_cancel(job)
    job.refresh_from_db()
    assert (job.status, job.cancel_requested, job.message) == (JobStatus.CANCELLED, True, "Cancelled.")
    assert job.finished_at is not None
    assert run_job(job.pk, count_to_five.body) is None
    assert body_calls == []


def test_cancel_a_running_job_stops_it_at_its_next_progress_write(settings):
    settings.JOB_PROGRESS_MIN_INTERVAL = 0
    steps: list[int] = []

    def body(job: Job, progress: Progress) -> None:
        for step in range(10):
            if step == 4:
                request_cancel(Job.objects.get(pk=job.pk))  # an admin, while the job runs
            steps.append(step)
            progress.add(1)

    job = _job(total=10)
    assert run_job(job.pk, body) == JobStatus.CANCELLED
    job.refresh_from_db()
    assert steps == [0, 1, 2, 3, 4]
    assert (job.status, job.done, job.message) == (JobStatus.CANCELLED, 5, "Cancelled.")


def test_cancelling_a_finished_job_changes_nothing():
    job = _job()
    run_job(job.pk, count_to_five.body)
    request_cancel(job)
    job.refresh_from_db()
    assert (job.status, job.cancel_requested) == (JobStatus.SUCCEEDED, False)


def test_progress_write_raises_once_cancelled():
    job = _job(status=JobStatus.RUNNING)
    progress = Progress(job, min_interval=0)
    progress.add(1)
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    with pytest.raises(JobCancelled):
        progress.add(1)


def test_a_job_is_claimed_once_while_its_worker_lives():
    job = _job()
    first = claim_job(job.pk)
    assert first is not None and first.status == JobStatus.RUNNING and first.attempts == 1
    started = first.started_at
    assert claim_job(job.pk) is None  # a redelivered message, a second worker: refused
    assert run_job(job.pk, count_to_five.body) is None
    assert body_calls == []

    # The worker dies: its heartbeat goes stale, and the job can be claimed again.
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    again = claim_job(job.pk)
    assert again is not None and again.attempts == 2
    assert again.started_at == started  # the first start is kept


def test_finished_jobs_are_never_claimed():
    job = _job()
    run_job(job.pk, count_to_five.body)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert claim_job(job.pk) is None
    assert body_calls == [job.pk]


def test_requeue_stale_jobs_resends_only_jobs_whose_worker_is_gone(monkeypatch, settings):
    settings.JOB_STALE_AFTER_SECONDS = 60
    sent: list[int] = []
    monkeypatch.setattr(jobs, "send_job", lambda job: sent.append(job.pk))
    long_ago = timezone.now() - timedelta(seconds=600)
    now = timezone.now()
    running_live = _job(status=JobStatus.RUNNING, heartbeat_at=now)
    running_dead = _job(status=JobStatus.RUNNING, heartbeat_at=long_ago)
    queued_new = _job()
    queued_old = _job()
    finished = _job(status=JobStatus.SUCCEEDED, heartbeat_at=long_ago)
    dead_and_cancelled = _job(status=JobStatus.RUNNING, heartbeat_at=long_ago, cancel_requested=True)
    Job.objects.filter(pk__in=[queued_old.pk, finished.pk]).update(created_at=long_ago)

    assert sorted(requeue_stale_jobs()) == sorted([running_dead.pk, queued_old.pk])
    assert sorted(sent) == sorted([running_dead.pk, queued_old.pk])
    statuses = dict(Job.objects.values_list("pk", "status"))
    assert statuses[dead_and_cancelled.pk] == JobStatus.CANCELLED
    assert statuses[running_live.pk] == statuses[running_dead.pk] == JobStatus.RUNNING
    assert statuses[queued_new.pk] == JobStatus.QUEUED and statuses[finished.pk] == JobStatus.SUCCEEDED


def test_cancel_of_a_running_job_whose_worker_died_ends_it_at_once(settings):
    settings.JOB_STALE_AFTER_SECONDS = 60
    job = _job(status=JobStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(seconds=600))
    request_cancel(job)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def test_job_task_refuses_an_unknown_queue():
    with pytest.raises(ValueError, match="unknown queue 'fast'"):
        job_task(queue="fast")


def test_api_job_detail_is_scoped_to_who_may_see_it(client):
    owner, stranger, admin = AnnotatorFactory(), AnnotatorFactory(), AdminFactory()
    job = _job(created_by=owner, done=2, total=8)
    url = reverse("api-job-detail", args=[job.pk])

    client.force_login(stranger)
    assert client.get(url).status_code == 404
    assert client.get(reverse("api-job-list")).json()["results"] == []

    client.force_login(owner)
    payload = client.get(url).json()
    assert (payload["id"], payload["status"], payload["done"], payload["total"], payload["percent"]) == (
        job.pk,
        "queued",
        2,
        8,
        25.0,
    )
    assert [j["id"] for j in client.get(reverse("api-job-list")).json()["results"]] == [job.pk]

    other = _job(created_by=stranger)
    client.force_login(admin)
    assert [j["id"] for j in client.get(reverse("api-job-list")).json()["results"]] == [other.pk, job.pk]


def test_job_page_polls_the_api(client):
    owner = AnnotatorFactory()
    job = _job(created_by=owner)
    client.force_login(owner)
    html = client.get(reverse("job-detail", args=[job.pk])).content.decode()
    assert f'data-job-url="{reverse("api-job-detail", args=[job.pk])}"' in html
    assert "Cancel job" not in html  # only admins cancel
