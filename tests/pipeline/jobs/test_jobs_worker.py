"""The Job mechanism with a real Celery worker process, on the configured database and broker."""

from __future__ import annotations

import pytest
from django.db import transaction

from annotator.registry import load_tasks
from pipeline.demo.tasks import build_demo_dataset
from pipeline.jobs.runner import start_job
from pipeline.models import Job, JobKind, JobStatus, Sample
from tests.conftest import wait_for
from tests.factories import AdminFactory

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _start_demo_job(count: int, seconds_per_sample: float) -> Job:
    load_tasks()
    with transaction.atomic():
        return start_job(
            JobKind.DEMO,
            build_demo_dataset.name,
            user=AdminFactory(),
            params={"task": "shapes", "split": "train", "count": count, "seconds_per_sample": seconds_per_sample},
            total=count,
        )


def test_worker_runs_job_end_to_end_with_progress(celery_worker_factory):
    celery_worker_factory()
    job = _start_demo_job(count=12, seconds_per_sample=0.15)

    seen_partial = wait_for(
        lambda: Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, done__gt=0, done__lt=12).exists() or None,
        timeout=60,
        interval=0.05,
        what="progress while running",
    )
    assert seen_partial
    wait_for(lambda: Job.objects.get(pk=job.pk).is_terminal, timeout=60, what="job end")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.done, job.total) == (12, 12)
    assert job.result == {"created": 12, "skipped": 0}
    assert job.started_at and job.finished_at and job.heartbeat_at
    assert Sample.objects.filter(task__slug="shapes", split="train").count() == 12


def test_killed_worker_job_finishes_once_on_new_worker(celery_worker_factory, settings):
    settings.JOB_STALE_AFTER_SECONDS = 3
    first = celery_worker_factory(JOB_STALE_AFTER_SECONDS="3")
    job = _start_demo_job(count=30, seconds_per_sample=0.2)
    wait_for(
        lambda: Job.objects.filter(pk=job.pk, done__gte=5).exists(), timeout=60, interval=0.05, what="some progress"
    )
    first.kill()
    interrupted = Job.objects.get(pk=job.pk)
    assert interrupted.status == JobStatus.RUNNING and 0 < interrupted.done < 30

    # A new worker finds the orphaned job (stale heartbeat) and finishes it.
    import time

    time.sleep(3.5)
    celery_worker_factory(JOB_STALE_AFTER_SECONDS="3")
    wait_for(lambda: Job.objects.get(pk=job.pk).is_terminal, timeout=90, what="job end on the second worker")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.attempts == 2
    source_ids = list(Sample.objects.filter(task__slug="shapes", split="train").values_list("source_id", flat=True))
    assert len(source_ids) == 30 == len(set(source_ids))
    # Nothing done twice: the rerun skipped what the killed worker had committed.
    assert job.result["created"] + job.result["skipped"] == 30
    assert job.result["skipped"] >= interrupted.done - 1
