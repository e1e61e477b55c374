"""Text progress bars of management commands."""

from __future__ import annotations

import io

import pytest

from pipeline import cli
from pipeline.cli import BarProgress, TextBar, follow_jobs, track
from pipeline.models import Job, JobKind, JobStatus


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_line_is_proportional():
    bar = TextBar("rows", total=100, stream=io.StringIO(), width=20)
    # 45 of 100 with 20 cells: 9 filled, 11 empty.
    assert bar.line(45, 100, "reading") == "rows [#########-----------]  45/100  45% reading"
    assert bar.line(100, 100) == "rows [####################] 100/100 100%"
    assert bar.line(7, None) == "rows [????????????????????] 7/?"


def test_track_in_a_log_writes_a_line_every_ten_percent():
    out = io.StringIO()
    items = list(range(25))
    assert list(track(items, label="n", stream=out)) == items
    lines = out.getvalue().splitlines()
    # 25 items: every item is 4%, so the tenths 0..10 are reached at 0, 3, 5, 8, ... 25 items: 11 lines.
    assert len(lines) == 11
    assert lines[0].startswith("n [------------------------------]  0/25   0%")
    assert lines[1].startswith("n [###---------------------------]  3/25  12%")
    assert lines[-1] == "n [##############################] 25/25 100%"


def test_track_on_a_terminal_redraws_in_place(monkeypatch):
    clock = [0.0]

    def tick() -> float:
        clock[0] += 1.0  # every draw is a second later than the one before
        return clock[0]

    monkeypatch.setattr(cli.time, "monotonic", tick)
    out = FakeTerminal()
    list(track(range(3), label="t", stream=out))
    text = out.getvalue()
    assert text.count("\r") == 5  # 0, 1, 2, 3 and the final draw
    assert text.endswith("3/3 100%\n")
    assert text.count("\n") == 1


def test_bar_progress_takes_the_calls_of_job_progress():
    out = io.StringIO()
    progress = BarProgress("import", stream=out)
    progress.update(done=0, total=4, message="reading", force=True)
    for _ in range(4):
        progress.add(1, created=1)
    progress.flush()
    assert progress.counters == {"created": 4}
    assert out.getvalue().splitlines()[-1] == "import [##############################] 4/4 100% reading"


@pytest.mark.django_db
def test_follow_jobs_draws_until_the_job_ends(monkeypatch):
    job = Job.objects.create(kind=JobKind.DEMO, task_name="x.y", total=4, status=JobStatus.RUNNING)

    def worker_step(seconds: float) -> None:  # what a worker would do between two polls
        done = Job.objects.get(pk=job.pk).done + 1
        status = JobStatus.SUCCEEDED if done == 4 else JobStatus.RUNNING
        Job.objects.filter(pk=job.pk).update(done=done, status=status, message="drawing")

    monkeypatch.setattr(cli.time, "sleep", worker_step)
    out = io.StringIO()
    [finished] = follow_jobs([job.pk], stream=out, poll=0)
    assert finished.status == JobStatus.SUCCEEDED
    lines = out.getvalue().splitlines()
    assert [line.split("]")[1].split("%")[0].strip() for line in lines] == [
        "0/4   0",
        "1/4  25",
        "2/4  50",
        "3/4  75",
        "4/4 100",
    ]
    assert lines[-1].endswith("succeeded. drawing")


@pytest.mark.django_db
def test_follow_jobs_gives_up_after_its_timeout(monkeypatch):
    job = Job.objects.create(kind=JobKind.DEMO, task_name="x.y", total=4)
    clock = [0.0]
    monkeypatch.setattr(cli.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(cli.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    out = io.StringIO()
    with pytest.raises(TimeoutError, match=f"job #{job.pk} still queued after 30"):
        follow_jobs([job.pk], stream=out, poll=1, timeout=30)
    assert "is a worker running?" in out.getvalue()
