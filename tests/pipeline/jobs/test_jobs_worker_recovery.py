"""A killed pool process, with its worker still up: the job finishes on that same worker."""

from __future__ import annotations

import os
import signal

import psutil
import pytest

from pipeline.models import Job, JobStatus, Sample
from tests.conftest import wait_for
from tests.pipeline.jobs.test_jobs_worker import _start_demo_job

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_job_of_a_killed_pool_process_finishes_on_the_same_worker(celery_worker_factory, settings):
    settings.JOB_STALE_AFTER_SECONDS = 20  # longer than Celery's worker_lost_wait (10 s) before it redelivers
    worker = celery_worker_factory(JOB_STALE_AFTER_SECONDS="20")
    job = _start_demo_job(count=30, seconds_per_sample=0.2)
    wait_for(
        lambda: Job.objects.filter(pk=job.pk, done__gte=5).exists(), timeout=60, interval=0.05, what="some progress"
    )
    [child] = psutil.Process(worker.proc.pid).children()  # -c 1 prefork: the one pool process
    os.kill(child.pid, signal.SIGKILL)
    interrupted = Job.objects.get(pk=job.pk)
    assert interrupted.status == JobStatus.RUNNING and interrupted.done < 30

    # Celery redelivers at once, while the heartbeat is still fresh: that delivery cannot claim the job
    # and must not be lost; the job is claimed again once stale, with no new worker and no restart.
    wait_for(lambda: Job.objects.get(pk=job.pk).is_terminal, timeout=90, what="job end on the same worker")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.attempts == 2
    assert worker.proc.poll() is None
    source_ids = list(Sample.objects.filter(task__slug="shapes", split="train").values_list("source_id", flat=True))
    assert len(source_ids) == 30 == len(set(source_ids))
