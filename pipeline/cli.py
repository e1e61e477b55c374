"""Text progress bars for management commands (on stderr, so stdout stays parseable).

    follow_jobs([job.pk], stream=self.stderr)          # a job that a worker runs
    for row in track(rows, total=n, label="rows"): ...  # a loop the command runs itself
    body(job, BarProgress("import"))                    # a job body run in-process, same calls as jobs.Progress

On a terminal the bar is redrawn in place; in a log (not a tty) a line is written every 10%.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO, TypeVar

from .models import Job, JobStatus

T = TypeVar("T")


class TextBar:
    """`label [#########---------]  45/100  45% message`."""

    def __init__(self, label: str, total: int | None = None, stream: Any = None, width: int = 30) -> None:
        self.label = label
        self.total = total
        stream = stream if stream is not None else sys.stderr
        # Django's OutputWrapper (a command's self.stderr) ends every write with a newline: draw on its file.
        self.stream: TextIO = getattr(stream, "_out", stream)
        self.width = width
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self._last_draw = 0.0
        self._last_step = -1
        self._last_line = ""

    def line(self, done: int, total: int | None, message: str = "") -> str:
        if total:
            filled = min(self.width, self.width * done // total)
            bar = "#" * filled + "-" * (self.width - filled)
            count = f"{done:>{len(str(total))}}/{total} {min(100, 100 * done // total):3d}%"
        else:
            bar, count = "?" * self.width, f"{done}/?"
        return f"{self.label} [{bar}] {count} {message}".rstrip()

    def draw(self, done: int, total: int | None = None, message: str = "", final: bool = False) -> None:
        total = self.total if total is None else total
        self.total = total
        text = self.line(done, total, message)
        if self.tty:
            now = time.monotonic()
            if final or now - self._last_draw >= 0.1:
                self._last_draw = now
                self.stream.write("\r" + text.ljust(len(self._last_line)))
                self._last_line = text
                if final:
                    self.stream.write("\n")
                self.stream.flush()
            return
        step = 100 * done // total // 10 if total else 0
        if final or step > self._last_step:
            self._last_step = step
            if text != self._last_line:
                self.stream.write(text + "\n")
                self.stream.flush()
            self._last_line = text


def track(items: Iterable[T], total: int | None = None, label: str = "", stream: Any = None) -> Iterator[T]:
    """Yield the items, drawing a bar as they go (total: len(items) when it has one)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    bar = TextBar(label, total, stream)
    done = 0
    bar.draw(0)
    for item in items:
        yield item
        done += 1
        bar.draw(done)
    bar.draw(done, final=True)


class BarProgress:
    """The calls of `pipeline.jobs.Progress` (update/add/flush, counters), drawn as a text bar."""

    def __init__(self, label: str, total: int | None = None, stream: Any = None) -> None:
        self.bar = TextBar(label, total, stream)
        self.done = 0
        self.total = total
        self.message = ""
        self.counters: dict[str, Any] = {}

    def update(
        self,
        done: int | None = None,
        total: int | None = None,
        message: str | None = None,
        force: bool = False,
        **counters: Any,
    ) -> None:
        self.done = self.done if done is None else done
        self.total = self.total if total is None else total
        self.message = self.message if message is None else message
        self.counters.update(counters)
        self.bar.draw(self.done, self.total, self.message)

    def add(self, n: int = 1, **counter_deltas: int) -> None:
        self.done += n
        for key, delta in counter_deltas.items():
            self.counters[key] = self.counters.get(key, 0) + delta
        self.bar.draw(self.done, self.total, self.message)

    def flush(self) -> None:
        self.bar.draw(self.done, self.total, self.message, final=True)


def follow_jobs(
    job_ids: Iterable[int], stream: Any = None, poll: float = 0.5, timeout: float | None = None
) -> list[Job]:
    """Draw a bar for each job in turn until it ends; return the jobs as they finished.

    Raises TimeoutError when `timeout` seconds pass first (the jobs carry on in the worker).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    out = getattr(stream, "_out", stream) if stream is not None else sys.stderr
    finished = []
    for job_id in job_ids:
        job = Job.objects.get(pk=job_id)
        bar = TextBar(f"job #{job.pk} {job.get_kind_display().lower()}", job.total, out)
        queued_since = time.monotonic()
        hinted = False
        while not job.is_terminal:
            bar.draw(job.done, job.total, job.message)
            if job.status == JobStatus.QUEUED and not hinted and time.monotonic() - queued_since > 10:
                out.write(f"\n(job #{job.pk} is still queued: is a worker running? `celery -A config worker`)\n")
                hinted = True
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job #{job.pk} still {job.status} after {timeout}s")
            time.sleep(poll)
            job.refresh_from_db()
        bar.draw(job.done, job.total, f"{job.status}. {job.error or job.message}".strip(), final=True)
        finished.append(job)
    return finished
