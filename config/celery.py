"""The Celery application. Settings come from Django settings under the CELERY_ namespace."""

import os

from celery import Celery
from celery.signals import worker_ready

from pipeline import STEPS  # a plain tuple: pipeline/__init__.py imports nothing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


app = Celery("m3it_studio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()  # <app>.tasks of every installed app
# and <step>.tasks of every pipeline step (a worker must know every task a message may name)
app.autodiscover_tasks([f"pipeline.{step}" for step in STEPS])


@worker_ready.connect
def _requeue_orphaned_jobs(**_: object) -> None:
    """A worker that starts picks up jobs whose worker died (heartbeat gone stale) or whose message was
    lost, then keeps sweeping every JOB_SWEEP_SECONDS (pipeline.jobs.runner.JobSweeper)."""
    from django.conf import settings
    from django.db import connection

    from pipeline.jobs.runner import JobSweeper, requeue_stale_jobs

    try:
        requeue_stale_jobs()
    finally:
        connection.close()
    if settings.JOB_SWEEP_SECONDS > 0:
        JobSweeper(settings.JOB_SWEEP_SECONDS).start()
