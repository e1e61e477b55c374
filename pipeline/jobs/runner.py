"""One mechanism for every long step: a Job row moved through its states by a Celery task.

    # pipeline/imports/tasks.py
    @job_task(queue="default")
    def import_source(job: Job, progress: Progress) -> dict: ...

    # a service (pipeline/imports/importer.py) starts it by name, so it never imports its tasks module
    job = start_job(JobKind.IMPORT, "pipeline.imports.tasks.import_source", user=request.user, params={...})

`start_job` enqueues after the surrounding transaction commits. A worker *claims* the job with
one conditional UPDATE (queued, or running with a stale heartbeat), so a redelivered message or a
second worker never runs the same job twice at once; a heartbeat thread keeps the claim alive.
Bodies must be resumable (skip what an earlier attempt already committed): after a killed
worker the job is claimed again, by redelivery (acks_late) or by `requeue_stale_jobs`, which
every worker runs when it starts and then every JOB_SWEEP_SECONDS (`JobSweeper`). The sweep also
sends the jobs whose message never reached the broker (it was down at start) or was lost (a broker
restart); one conditional UPDATE on `sent_at` lets one sweeper of several re-send a job per window.
A redelivered message that finds the job still running (its
holder died a moment ago, heartbeat still fresh) is sent again for when the heartbeat will be
stale, so the job is not left running forever. Every write of a claimed attempt names the attempt
number, so a worker whose claim was taken over (a zombie) cannot overwrite the new owner's state.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import kombu.exceptions
from celery import shared_task
from celery.utils.imports import symbol_by_name
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_noop

from pipeline.models import Job, JobKind, JobStatus

log = logging.getLogger(__name__)

QUEUES = ("default", "llm", "gpu")

JobBody = Callable[[Job, "Progress"], dict[str, Any] | None]


class JobCancelled(Exception):
    """Raised inside a job body when an admin asked to cancel it."""


class JobLost(Exception):
    """Raised inside a job body whose claim another worker took over: it must stop writing."""


class Progress:
    """Throttled progress writer: at most one UPDATE per JOB_PROGRESS_MIN_INTERVAL seconds."""

    def __init__(self, job: Job, min_interval: float | None = None) -> None:
        self.job = job
        self.attempt = job.attempts  # the claim this writer belongs to
        self.done = job.done
        self.total = job.total
        self.counters: dict[str, Any] = dict(job.counters or {})
        self.message = job.message
        self.message_args = job.message_args
        self.min_interval = settings.JOB_PROGRESS_MIN_INTERVAL if min_interval is None else min_interval
        self._last_write = 0.0

    def update(
        self,
        done: int | None = None,
        total: int | None = None,
        message: str | None = None,
        force: bool = False,
        message_args: dict[str, Any] | None = None,
        **counters: Any,
    ) -> None:
        """Set absolute values; counters given by keyword replace their previous values.

        `message` is English. To have it shown in each reader's language, pass a msgid marked with
        gettext_noop and its %(name)s arguments in `message_args` (Job.display_message renders it)."""
        if done is not None:
            self.done = done
        if total is not None:
            self.total = total
        if message is not None:
            self.message = message[:500]
            self.message_args = message_args
        self.counters.update(counters)
        self._maybe_write(force)

    def add(self, n: int = 1, **counter_deltas: int) -> None:
        """Advance `done` by n and add to counters."""
        self.done += n
        for key, delta in counter_deltas.items():
            self.counters[key] = self.counters.get(key, 0) + delta
        self._maybe_write(False)

    def flush(self) -> None:
        self._maybe_write(True)

    def _maybe_write(self, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last_write < self.min_interval:
            return
        self._last_write = now
        # One UPDATE writes the progress and notices a cancellation or a lost claim: it matches no
        # row once an admin asked to cancel, another worker claimed the job again, or the row is gone.
        written = Job.objects.filter(pk=self.job.pk, attempts=self.attempt, cancel_requested=False).update(
            done=self.done,
            total=self.total,
            counters=self.counters,
            message=self.message,
            message_args=self.message_args,
            heartbeat_at=timezone.now(),
        )
        if not written:
            self._stopped()

    def write_counters(self) -> None:
        """Write the counters now (e.g. inside the caller's transaction, with what they record)."""
        if not Job.objects.filter(pk=self.job.pk, attempts=self.attempt).update(counters=self.counters):
            raise JobLost()

    def _stopped(self) -> None:
        if Job.objects.filter(pk=self.job.pk).exclude(attempts=self.attempt).exists():
            raise JobLost()
        raise JobCancelled()


class _Heartbeat(threading.Thread):
    """Keeps a claimed job's heartbeat fresh while its body runs, even between progress writes."""

    def __init__(self, job_id: int, attempt: int, interval: float) -> None:
        super().__init__(daemon=True, name=f"job-{job_id}-heartbeat")
        self.job_id = job_id
        self.attempt = attempt
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                try:
                    Job.objects.filter(pk=self.job_id, attempts=self.attempt, status=JobStatus.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception:  # a database hiccup must not end the heartbeat: reconnect next time
                    log.warning("job %s: heartbeat write failed", self.job_id, exc_info=True)
                    connection.close()
        finally:
            connection.close()


def _stale_before() -> Any:
    return timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)


def claim_job(job_id: int) -> Job | None:
    """Atomically take a job for this worker; None when it is finished or held by a live worker."""
    now = timezone.now()
    claimable = Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, heartbeat_at__lt=_stale_before())
    taken = Job.objects.filter(claimable, pk=job_id, cancel_requested=False).update(
        status=JobStatus.RUNNING,
        attempts=F("attempts") + 1,
        heartbeat_at=now,
        started_at=Coalesce(F("started_at"), Value(now)),
    )
    if not taken:
        return None
    return Job.objects.get(pk=job_id)


def _finish(job_id: int, attempt: int, status: str, **fields: Any) -> None:
    """Record the outcome, unless the job stopped running meanwhile (cancelled as stale) or another
    worker claimed it again (this attempt was taken for dead)."""
    now = timezone.now()
    Job.objects.filter(pk=job_id, attempts=attempt, status=JobStatus.RUNNING).update(
        status=status, finished_at=now, heartbeat_at=now, **fields
    )


def run_job(job_id: int, body: JobBody) -> str | None:
    """Run `body` for a job if this worker can claim it; record the outcome on the row."""
    job = claim_job(job_id)
    if job is None:
        log.info("job %s not claimed (finished, cancelled or held by a live worker)", job_id)
        return None
    attempt = job.attempts
    heartbeat = _Heartbeat(job_id, attempt, max(1.0, settings.JOB_STALE_AFTER_SECONDS / 4))
    heartbeat.start()
    progress = Progress(job)
    try:
        result = body(job, progress) or {}
    except JobLost:
        log.warning("job %s: attempt %s was taken over by another worker; it stops", job_id, attempt)
        return None
    except JobCancelled:
        _finish(
            job_id,
            attempt,
            JobStatus.CANCELLED,
            done=progress.done,
            counters=progress.counters,
            message=gettext_noop("Cancelled."),
            message_args=None,
        )
        return JobStatus.CANCELLED
    except Exception as exc:  # the job records any failure; the worker itself carries on
        if getattr(exc, "user_error", False):  # bad input, said in the message: no traceback for it
            log.info("job %s failed: %s", job_id, exc)
        else:
            log.exception("job %s failed", job_id)
        error = scrub_paths(f"{type(exc).__name__}: {exc}")
        _finish(
            job_id,
            attempt,
            JobStatus.FAILED,
            done=progress.done,
            counters=progress.counters,
            message=f"Failed: {error.splitlines()[0]}"[:500],
            error=error[:5000],
        )
        return JobStatus.FAILED
    finally:
        heartbeat.stopped.set()
        heartbeat.join(timeout=5)
    done = progress.total if progress.total is not None else progress.done
    _finish(
        job_id,
        attempt,
        JobStatus.SUCCEEDED,
        done=max(done, progress.done),
        total=progress.total if progress.total is not None else max(done, progress.done),
        counters=progress.counters,
        message=progress.message,
        message_args=progress.message_args,
        result=result,
    )
    return JobStatus.SUCCEEDED


def scrub_paths(text: str) -> str:
    """`text` with the server's folders named by their setting, not their absolute path (users read it)."""
    roots = [(name, str(getattr(settings, name, "") or "")) for name in ("IMPORT_ROOT", "MEDIA_ROOT", "EXPORT_ROOT")]
    roots.append(("BASE_DIR", str(settings.BASE_DIR)))
    for name, root in sorted(roots, key=lambda pair: -len(pair[1])):  # longest first: nested folders
        if root and root != "/":
            text = text.replace(root.rstrip("/") + "/", f"<{name}>/").replace(root, f"<{name}>")
    return text


def job_task(*, queue: str = "default", **celery_options: Any) -> Callable[[JobBody], Any]:
    """Turn `body(job, progress) -> result dict` into a Celery task that takes a job id."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; use one of {QUEUES}")

    def decorate(body: JobBody) -> Any:
        @shared_task(
            name=f"{body.__module__}.{body.__name__}",
            queue=queue,
            acks_late=True,
            reject_on_worker_lost=True,
            ignore_result=True,
            **celery_options,
        )
        def run(job_id: int) -> str | None:
            outcome = run_job(job_id, body)
            if outcome is None:
                resend_if_held(job_id)
            return outcome

        run.body = body
        run.__doc__ = body.__doc__
        return run

    return decorate


def start_job(
    kind: JobKind | str,
    task_name: str,
    *,
    user: Any = None,
    params: dict[str, Any] | None = None,
    total: int | None = None,
    for_task: Any = None,
    message: str = gettext_noop("Queued."),
) -> Job:
    """Create a Job row and enqueue its Celery task (by dotted name, "<module>.<function>" of a `job_task`)
    once the current transaction commits."""
    task = job_task_named(task_name)
    job = Job.objects.create(
        kind=kind,
        task_name=task.name,
        queue=task.queue,
        params=params or {},
        total=total,
        task=for_task,
        created_by=user if user is not None and user.is_authenticated else None,
        celery_task_id=str(uuid.uuid4()),
        message=message,
    )
    transaction.on_commit(lambda: _send_or_leave_queued(job))
    return job


BROKER_ERRORS = (kombu.exceptions.OperationalError, OSError)  # what a send raises while the broker is down
BROKER_DOWN = "Queued. The message broker cannot be reached; a worker sends the job when it is back."


def _send_or_leave_queued(job: Job) -> None:
    """Send a new job's message; with the broker down the job stays queued, and the sweep sends it."""
    try:
        send_job(job)
    except BROKER_ERRORS:
        log.warning("job %s: the broker cannot be reached; it stays queued for the sweep", job.pk, exc_info=True)
        Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(message=BROKER_DOWN)


def job_task_named(task_name: str) -> Any:
    """The `job_task` called `task_name` ("<module>.<function>"), importing its module on first use."""
    task = symbol_by_name(task_name)
    if not hasattr(task, "body"):
        raise ValueError(f"{task_name} is not a job task")
    return task


def send_job(job: Job, countdown: float | None = None) -> None:
    """Put a job's message on its queue (again). Safe to repeat: only one claim can win."""
    task = job_task_named(job.task_name)
    task.apply_async(args=[job.pk], queue=job.queue, task_id=job.celery_task_id, countdown=countdown)
    Job.objects.filter(pk=job.pk).update(sent_at=timezone.now())


def resend_if_held(job_id: int) -> bool:
    """A message that could not claim a running job (its holder may have died a moment ago, its
    heartbeat still fresh) is sent again for when that heartbeat would be stale: then it claims the
    job if the holder is gone, or finds it finished and is dropped. Without this, a redelivery after a
    killed pool process would be acked and lost while the job stays "running"."""
    job = Job.objects.filter(pk=job_id, status=JobStatus.RUNNING, cancel_requested=False).first()
    if job is None:
        return False
    task = job_task_named(job.task_name)
    if task.app.conf.task_always_eager:  # in-process: sending again would run it again right here
        return False
    log.info("job %s is held by another claim; checking again in %ss", job_id, settings.JOB_STALE_AFTER_SECONDS)
    send_job(job, countdown=settings.JOB_STALE_AFTER_SECONDS + 1)
    return True


def request_cancel(job: Job) -> None:
    """Cancel a queued job (or a running one whose worker is gone) at once; ask a live running one
    to stop at its next progress write. A finished job is left as it is."""
    now = timezone.now()
    at_once = Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, heartbeat_at__lt=_stale_before())
    if Job.objects.filter(at_once, pk=job.pk).update(
        status=JobStatus.CANCELLED,
        cancel_requested=True,
        finished_at=now,
        message=gettext_noop("Cancelled."),
        message_args=None,
    ):
        return
    Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(cancel_requested=True)


def requeue_stale_jobs() -> list[int]:
    """Send again the jobs whose worker died (running, heartbeat stale) or whose message was lost or never
    sent (queued, not sent for a stale window, or never sent at all). Safe in every worker at once: a job
    is re-sent by the one sweeper whose conditional UPDATE of `sent_at` wins, at most once per window."""
    stale = _stale_before()
    now = timezone.now()
    # A dead worker's job that an admin asked to cancel will never reach a progress write: end it.
    Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=stale, cancel_requested=True).update(
        status=JobStatus.CANCELLED, finished_at=now, message=gettext_noop("Cancelled."), message_args=None
    )
    not_sent_lately = Q(sent_at__isnull=True) | Q(sent_at__lt=stale)
    due = (
        Q(status=JobStatus.RUNNING, heartbeat_at__lt=stale)
        | Q(status=JobStatus.QUEUED, sent_at__isnull=True, created_at__lt=now - timedelta(seconds=NEW_JOB_GRACE))
        | Q(status=JobStatus.QUEUED, sent_at__lt=stale)
    )
    sent = []
    for pk, previous in Job.objects.filter(due, not_sent_lately, cancel_requested=False).values_list("pk", "sent_at"):
        if not Job.objects.filter(not_sent_lately, pk=pk, sent_at=previous).update(sent_at=now):
            continue  # another worker's sweep took it
        job = Job.objects.get(pk=pk)
        try:
            send_job(job)
        except BROKER_ERRORS:  # the broker is down: leave it for the next sweep, try no more now
            log.warning("sweep: job %s could not be sent; the broker cannot be reached", pk, exc_info=True)
            Job.objects.filter(pk=pk, sent_at=now).update(sent_at=previous)
            break
        log.warning("re-sent job %s (%s, %s): its worker is gone or its message was lost", pk, job.kind, job.status)
        sent.append(pk)
    return sent


NEW_JOB_GRACE = 10  # seconds: a job just created is being sent by start_job; the sweep leaves it alone


class JobSweeper(threading.Thread):
    """Runs `requeue_stale_jobs` every `interval` seconds in a worker's main process (started on
    worker_ready, config/celery.py). Every worker runs one: no extra process to start (`make run` and any
    number of workers work as they are), and the conditional UPDATE keeps their sweeps from doubling up."""

    def __init__(self, interval: float) -> None:
        super().__init__(daemon=True, name="job-sweeper")
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                requeue_stale_jobs()
            except Exception:  # a database or broker hiccup: try again next time
                log.warning("job sweep failed", exc_info=True)
            finally:
                connection.close()  # hold no connection between sweeps (the pool forks new children)
