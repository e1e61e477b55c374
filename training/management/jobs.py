"""Running a job of a management command: here in a thread (or by a worker with --queue), with a
tqdm bar drawn from the Job row (pipeline cli helpers)."""

from __future__ import annotations

import threading
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import connection

from pipeline.jobs.cli import follow_jobs
from pipeline.jobs.runner import job_task_named, run_job
from pipeline.models import Job, JobStatus


def admin_user(username: str | None) -> Any:
    if not username:
        return None
    user = get_user_model().objects.filter(username=username, is_staff=True, is_active=True).first()
    if user is None:
        raise CommandError(f"no active admin called {username!r}")
    return user


def run_and_follow(job_id: int, stream: Any, queue: bool) -> Job:
    """Run the job body in this process unless `queue` (a worker that got the message first runs it
    instead: the claim decides); draw its progress until it ends; CommandError if it did not succeed."""

    body = job_task_named(Job.objects.get(pk=job_id).task_name).body

    def here() -> None:
        try:
            run_job(job_id, body)
        finally:
            connection.close()

    if not queue:
        threading.Thread(target=here, daemon=True).start()
    follow_jobs([job_id], stream=stream)
    job = Job.objects.get(pk=job_id)
    if job.status != JobStatus.SUCCEEDED:
        raise CommandError(f"job #{job.pk} {job.status}: {job.error or job.message}")
    return job
