"""Fixtures for the whole suite: users per role, eager jobs, a real Celery worker process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from pipeline.jobs.runner import QUEUES
from tests.factories import AdminFactory, AnnotatorFactory, ReviewerFactory

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _interface_language_reset() -> Iterator[None]:
    """A request in Chinese activates it for the thread (LocaleMiddleware); the next test starts in English."""
    yield
    from django.utils import translation

    translation.activate("en")


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: object, tmp_path_factory: pytest.TempPathFactory) -> None:
    settings.MEDIA_ROOT = str(tmp_path_factory.getbasetemp() / "media")
    settings.EXPORT_ROOT = tmp_path_factory.getbasetemp() / "exports"
    settings.IMPORT_ROOT = tmp_path_factory.getbasetemp() / "imports"
    settings.TRAINING_ROOT = tmp_path_factory.getbasetemp() / "training"


@pytest.fixture
def admin_user(db: None) -> object:
    return AdminFactory()


@pytest.fixture
def annotator(db: None) -> object:
    return AnnotatorFactory()


@pytest.fixture
def reviewer(db: None) -> object:
    return ReviewerFactory()


@pytest.fixture
def eager_jobs(django_capture_on_commit_callbacks: Callable) -> Iterator[Callable]:
    """Run jobs in-process: tasks execute when the enqueuing transaction's callbacks run.

    Usage: `with eager_jobs(): start_job(...)`.
    """
    celery_app.conf.task_always_eager = True
    try:
        yield lambda: django_capture_on_commit_callbacks(execute=True)
    finally:
        celery_app.conf.task_always_eager = False


def test_database_url() -> str:
    """The URL of the database this test session uses, for a worker process to share it."""
    sd = connection.settings_dict
    if sd["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{sd['NAME']}"
    user = sd.get("USER") or ""
    password = f":{sd['PASSWORD']}" if sd.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{sd.get('HOST') or '127.0.0.1'}:{sd.get('PORT') or 5432}/{sd['NAME']}"


class WorkerProcess:
    """A real `celery worker` subprocess on the test database and broker."""

    def __init__(
        self, log_path: Path, extra_env: dict[str, str] | None = None, prefix: list[str] | None = None
    ) -> None:
        self.log_path = log_path
        self.extra_env = extra_env or {}
        self.prefix = prefix or []  # e.g. ["ip", "netns", "exec", NAME]: the worker on another network host
        self.proc: subprocess.Popen | None = None

    def start(self, wait_ready: float = 60.0) -> WorkerProcess:
        env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CELERY_BROKER_DIR": str(Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in", ".")).parent),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "EXPORT_ROOT": str(settings.EXPORT_ROOT),
            "TRAINING_ROOT": str(settings.TRAINING_ROOT),
            "M3IT_VAR_DIR": str(settings.VAR_DIR),
            "SECRET_KEY": settings.SECRET_KEY,
            "JOB_STALE_AFTER_SECONDS": str(settings.JOB_STALE_AFTER_SECONDS),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                *self.prefix,
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                ",".join(QUEUES),
                "-c",
                "1",
                "-P",
                "prefork",
                "-l",
                "info",
                "-n",
                f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + wait_ready
        while time.monotonic() < deadline:
            if b"ready." in self.log_path.read_bytes():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"celery worker not ready in {wait_ready}s:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool children, as a crash or OOM would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def purge_queues() -> None:
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in QUEUES:
            with contextlib.suppress(Exception):  # a queue never declared has nothing to purge
                channel.queue_purge(queue)


@pytest.fixture
def celery_worker_factory(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real worker processes (committed data, shared test database). All are stopped at the end."""
    purge_queues()
    workers: list[WorkerProcess] = []

    def start(**extra_env: str) -> WorkerProcess:
        worker = WorkerProcess(tmp_path / f"worker-{len(workers)}.log", extra_env).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
    purge_queues()


def wait_for(
    predicate: Callable[[], object], timeout: float = 60.0, interval: float = 0.2, what: str = "condition"
) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
