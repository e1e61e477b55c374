"""Celery tasks of the paraphrase step (thin: the work is in pipeline.paraphrase.runner)."""

from __future__ import annotations

from typing import Any

from pipeline.jobs.runner import Progress, job_task
from pipeline.models import Job
from pipeline.paraphrase import runner


@job_task(queue="llm")
def paraphrase_answers(job: Job, progress: Progress) -> dict[str, Any]:
    """Stage II for the chosen splits: fan out chunks on the llm queue and see them through."""
    return runner.run_parent(job, progress)


@job_task(queue="llm")
def paraphrase_chunk(job: Job, progress: Progress) -> dict[str, Any]:
    """One chunk of a paraphrase job (any worker may run it; resumable)."""
    return runner.run_chunk(job, progress)
