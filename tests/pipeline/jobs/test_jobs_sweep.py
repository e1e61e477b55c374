"""The periodic sweep in every worker (pipeline.jobs.runner.JobSweeper), with real workers and a real
broker outage: a throwaway redis-server on a free port that the test starts and stops itself (the
machine's shared Redis is never touched)."""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import kombu.pools
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from config.celery import app as celery_app
from pipeline.jobs.runner import BROKER_DOWN
from pipeline.models import Job, JobStatus, Sample
from tests.conftest import wait_for
from tests.factories import AdminFactory
from tests.pipeline.imports.files import image_bytes
from tests.pipeline.jobs.test_jobs_worker import _start_demo_job

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_killed_job_is_resent_when_a_worker_came_back_within_the_stale_window(celery_worker_factory, settings):
    settings.JOB_STALE_AFTER_SECONDS = 15
    env = {"JOB_STALE_AFTER_SECONDS": "15", "JOB_SWEEP_SECONDS": "1"}
    first = celery_worker_factory(**env)
    job = _start_demo_job(count=30, seconds_per_sample=0.2)
    wait_for(lambda: Job.objects.filter(pk=job.pk, done__gte=5).exists(), timeout=60, interval=0.05, what="progress")
    first.kill()
    celery_worker_factory(**env)  # back at once: its start-up sweep finds the heartbeat still fresh
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING
    # Neither a redelivery (the killed worker's message is unacked until the broker's visibility timeout,
    # an hour) nor a restart comes: the new worker's periodic sweep re-sends it once the heartbeat is stale.
    wait_for(lambda: Job.objects.get(pk=job.pk).is_terminal, timeout=90, what="job end after the sweep")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2, job.error
    assert Sample.objects.filter(task__slug="shapes", split="train").count() == 30


# ---- a broker of our own, to stop and start -------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayRedis:
    """A redis-server on a free port, no persistence: stopping it loses every message, as a restart does."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.05)
        raise RuntimeError("throwaway redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # our own process, by its id
            self.proc.wait(timeout=10)


@contextlib.contextmanager
def broker(url: str) -> Iterator[None]:
    """This test process sends its messages to `url` (the app's connection pools are rebuilt)."""
    keys = ("broker_url", "broker_write_url", "broker_read_url", "broker_transport_options")
    saved = {key: celery_app.conf[key] for key in keys}

    def reset() -> None:  # drop the app's cached pools and kombu's shared ones: the next send connects anew
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        kombu.pools.reset()

    reset()
    celery_app.conf.update(
        broker_url=url, broker_write_url=url, broker_read_url=url, broker_transport_options={"visibility_timeout": 3600}
    )
    try:
        yield
    finally:
        reset()
        celery_app.conf.update(saved)


def _upload(count: int) -> SimpleUploadedFile:
    png = base64.b64encode(image_bytes((3, 4, 5))).decode()
    rows = [
        {"instruction": "", "inputs": "q", "outputs": f"a{i}", "image_base64_str": [png], "meta": {"source_id": i}}
        for i in range(count)
    ]
    return SimpleUploadedFile("train.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())


def _start_import(client: APIClient, split: str) -> tuple[int, dict]:
    response = client.post(
        "/api/imports/",
        {"adapter": "m3it-jsonl", "task": "okvqa", "split": split, "upload": _upload(3), "max_rejected": "0"},
        format="multipart",
    )
    return response.status_code, response.json()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server on PATH")
def test_jobs_whose_message_was_lost_or_never_sent_run_once_the_broker_is_back(celery_worker_factory, settings):
    from annotator.registry import load_tasks

    load_tasks()
    settings.JOB_STALE_AFTER_SECONDS = 4
    redis = ThrowawayRedis()
    redis.start()
    client = APIClient()
    client.force_login(AdminFactory())
    try:
        with broker(redis.url):
            # 1. A message lost by a broker restart before any worker took it.
            code, lost = _start_import(client, "train")
            assert code == 202 and Job.objects.get(pk=lost["id"]).sent_at is not None
            redis.stop()
            redis.start()  # empty: the message is gone

            # 2. A job started while the broker is down: 202, queued for the sweep (was a 500).
            redis.stop()
            code, unsent = _start_import(client, "val")
            assert code == 202, unsent
            job = Job.objects.get(pk=unsent["id"])
            assert (job.status, job.message, job.sent_at) == (JobStatus.QUEUED, BROKER_DOWN, None)
            redis.start()

            celery_worker_factory(
                CELERY_BROKER_URL=redis.url,
                JOB_STALE_AFTER_SECONDS="4",
                JOB_SWEEP_SECONDS="1",
                IMPORT_ROOT=str(settings.IMPORT_ROOT),
            )
            for pk in (lost["id"], unsent["id"]):
                wait_for(lambda pk=pk: Job.objects.get(pk=pk).is_terminal, timeout=90, what=f"job {pk} end")
                job = Job.objects.get(pk=pk)
                assert job.status == JobStatus.SUCCEEDED and job.attempts == 1, job.error
            assert Sample.objects.filter(task__slug="okvqa").count() == 6
    finally:
        redis.stop()
