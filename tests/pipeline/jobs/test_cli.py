"""Progress bars of management commands (pipeline/cli.py)."""

from __future__ import annotations

import io
import re

import pytest

from pipeline.jobs import cli
from pipeline.jobs.cli import BarProgress, follow_jobs
from pipeline.models import Job, JobKind, JobStatus
from tests.pipeline.jobs.test_jobs import count_to_five


def _frames(text: str) -> list[str]:
    """The successive states of a bar that tqdm redrew with carriage returns (repeats dropped)."""
    frames: list[str] = []
    for frame in re.split(r"[\r\n]", text):
        if frame.strip() and (not frames or frames[-1] != frame.strip()):
            frames.append(frame.strip())
    return frames


@pytest.mark.django_db
def test_bar_progress_runs_a_job_body_in_process():
    job = Job.objects.create(kind=JobKind.DEMO, task_name=count_to_five.name)
    out = io.StringIO()
    progress = BarProgress("count", stream=out)
    assert count_to_five.body(job, progress) == {"counted": 5}
    progress.close()
    assert (progress.done, progress.total, progress.counters) == (5, 5, {"counted": 5})
    last = _frames(out.getvalue())[-1]
    assert last.startswith("count: 100%") and "5/5" in last and "counting" in last


@pytest.mark.django_db
def test_follow_jobs_draws_until_the_job_ends(monkeypatch):
    job = Job.objects.create(kind=JobKind.DEMO, task_name="x.y", total=4, status=JobStatus.RUNNING, message="drawing")

    def worker_step(seconds: float) -> None:  # what a worker does between two polls
        done = Job.objects.get(pk=job.pk).done + 1
        Job.objects.filter(pk=job.pk).update(done=done, status=JobStatus.SUCCEEDED if done == 4 else JobStatus.RUNNING)

    monkeypatch.setattr(cli.time, "sleep", worker_step)
    out = io.StringIO()
    [finished] = follow_jobs([job.pk], stream=out, poll=0)
    assert finished.status == JobStatus.SUCCEEDED
    frames = _frames(out.getvalue())
    counts = [int(re.search(r"(\d+)/4", f).group(1)) for f in frames]
    assert counts == sorted(counts) and set(counts) == {0, 1, 2, 3, 4}  # every poll drawn, in order
    assert any(f.endswith("1/4 [00:00, drawing]") and " 25%|" in f for f in frames)
    assert frames[-1].startswith(f"job #{job.pk} demo: 100%") and frames[-1].endswith("succeeded: drawing]")


@pytest.mark.django_db
def test_follow_jobs_says_why_a_job_did_not_succeed():
    job = Job.objects.create(
        kind=JobKind.IMPORT, task_name="x.y", total=9, done=2, status=JobStatus.FAILED, error="ValueError: line 3"
    )
    out = io.StringIO()
    follow_jobs([job.pk], stream=out)
    assert out.getvalue().endswith(f"job #{job.pk} failed: ValueError: line 3\n")


@pytest.mark.django_db
def test_follow_jobs_gives_up_after_its_timeout_and_hints_at_the_worker(monkeypatch):
    job = Job.objects.create(kind=JobKind.DEMO, task_name="x.y", total=4)
    clock = [0.0]
    monkeypatch.setattr(cli.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(cli.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    out = io.StringIO()
    with pytest.raises(TimeoutError, match=f"job #{job.pk} still queued after 30"):
        follow_jobs([job.pk], stream=out, poll=1, timeout=30)
    assert "is a worker running?" in out.getvalue()
