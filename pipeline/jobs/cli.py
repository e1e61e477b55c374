"""Progress bars for management commands, drawn by tqdm on stderr (stdout stays parseable).

    follow_jobs([job.pk], stream=self.stderr)        # jobs that workers run: poll their rows until they end
    body(job, BarProgress("import", self.stderr))    # a job body run in-process: the calls of jobs.Progress

For a plain loop use tqdm itself: `for row in tqdm(rows, file=self.stderr._out): ...`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Any, TextIO

from django.utils.translation import gettext
from tqdm import tqdm

from pipeline.models import Job, JobStatus

# A polled bar jumps by many items at once: its elapsed time means something, its it/s does not.
POLLED_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"


def _file(stream: Any) -> TextIO:
    """Django's OutputWrapper (a command's self.stderr) ends every write with a newline: draw on its file."""
    return getattr(stream, "_out", stream) if stream is not None else sys.stderr


class BarProgress:
    """The calls of `pipeline.jobs.runner.Progress` (update/add/flush, counters), drawn as a tqdm bar."""

    def __init__(self, label: str, stream: Any = None, total: int | None = None, **tqdm_options: Any) -> None:
        self.bar = tqdm(total=total, desc=label, file=_file(stream), dynamic_ncols=True, **tqdm_options)
        self.counters: dict[str, Any] = {}

    @property
    def done(self) -> int:
        return int(self.bar.n)

    @property
    def total(self) -> int | None:
        return self.bar.total

    def update(
        self,
        done: int | None = None,
        total: int | None = None,
        message: str | None = None,
        force: bool = False,
        message_args: dict[str, Any] | None = None,
        **counters: Any,
    ) -> None:
        if total is not None:
            self.bar.total = total
        if message is not None:
            text = gettext(message)
            self.bar.set_postfix_str(text % message_args if message_args else text, refresh=False)
        self.counters.update(counters)
        if done is not None:
            self.bar.n = done
        self.bar.refresh()

    def add(self, n: int = 1, **counter_deltas: int) -> None:
        for key, delta in counter_deltas.items():
            self.counters[key] = self.counters.get(key, 0) + delta
        self.bar.update(n)

    def flush(self) -> None:
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def follow_jobs(
    job_ids: Iterable[int], stream: Any = None, poll: float = 0.5, timeout: float | None = None
) -> list[Job]:
    """Draw a bar for each job in turn until it ends; return the jobs as they finished.

    Raises TimeoutError when `timeout` seconds pass first (the jobs carry on in the workers).
    """
    out = _file(stream)
    deadline = None if timeout is None else time.monotonic() + timeout
    finished = []
    for job_id in job_ids:
        job = Job.objects.get(pk=job_id)
        queued_since, hinted = time.monotonic(), False
        desc = f"job #{job.pk} {job.kind}"
        with tqdm(total=job.total, desc=desc, file=out, dynamic_ncols=True, bar_format=POLLED_FORMAT) as bar:
            while True:
                bar.total = job.total
                bar.n = job.done
                note = f"{job.status}: {job.display_message}" if job.is_terminal else job.display_message
                bar.set_postfix_str(note, refresh=False)
                bar.refresh()
                if job.is_terminal:
                    break
                if job.status == JobStatus.QUEUED and not hinted and time.monotonic() - queued_since > 10:
                    bar.write(f"job #{job.pk} is still queued: is a worker running? (celery -A config worker)", out)
                    hinted = True
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"job #{job.pk} still {job.status} after {timeout}s")
                time.sleep(poll)
                job.refresh_from_db()
        if job.status != JobStatus.SUCCEEDED:
            out.write(f"job #{job.pk} {job.status}: {job.error or job.display_message}\n")
        finished.append(job)
    return finished
