"""Celery tasks of the training app (thin: the work is in training.runs, training.train and training.evaluation)."""

from __future__ import annotations

from typing import Any

from pipeline.jobs.runner import Progress, job_task
from pipeline.models import Job

from . import runs
from .models import AblationSeries, Evaluation, JudgeComparison


@job_task(queue="gpu")
def train_model(job: Job, progress: Progress) -> dict[str, Any]:
    """Train (or carry on training) one run; a redelivered job resumes from the newest checkpoint."""
    return runs.execute(job, progress)


@job_task(queue="gpu")
def evaluate(job: Job, progress: Progress) -> dict[str, Any]:
    from .evaluation.run import run_evaluation

    return run_evaluation(Evaluation.objects.get(pk=job.params["evaluation"]), progress)


@job_task(queue="llm")
def evaluate_endpoint(job: Job, progress: Progress) -> dict[str, Any]:
    """The same evaluation, for an OpenAI-compatible endpoint: it waits on the network, not a GPU."""
    from .evaluation.run import run_evaluation

    return run_evaluation(Evaluation.objects.get(pk=job.params["evaluation"]), progress)


@job_task(queue="llm")
def judge(job: Job, progress: Progress) -> dict[str, Any]:
    from .evaluation.judge import run_judge

    return run_judge(JudgeComparison.objects.get(pk=job.params["comparison"]), progress)


@job_task(queue="gpu")
def ablate(job: Job, progress: Progress) -> dict[str, Any]:
    from .evaluation.ablate import run_series

    return run_series(AblationSeries.objects.get(pk=job.params["series"]), progress)
