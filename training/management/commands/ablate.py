"""`manage.py ablate tasks|instructions --counts ...`: train and evaluate each point, draw the curve."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from training.evaluation.ablate import AblationError, curve, start_series
from training.evaluation.run import EvaluationError
from training.management.jobs import admin_user, run_and_follow
from training.models import AblationSeries


def counts(value: str) -> list[int]:
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError as exc:
        raise CommandError(f"--counts takes numbers separated by commas, not {value!r}") from exc


class Command(BaseCommand):
    help = (
        "Figure 5 (tasks: number of held-in tasks trained on) or Figure 6 (instructions: instructions per task). "
        "Each point is a training run and an evaluation; a series that stopped resumes with --resume ID."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("kind", choices=["tasks", "instructions"])
        parser.add_argument("--counts", type=counts, help="e.g. 0,4,8,16,27 (tasks) or 1,2,4,8 (instructions)")
        parser.add_argument("--export", help="export id or name, or an export folder (train split + eval split)")
        parser.add_argument("--eval-tasks", nargs="+", metavar="SLUG", help="default: every task of the split")
        parser.add_argument("--split", default="val", choices=["val", "test"])
        parser.add_argument("--config", default="tiny", help="training config (default: tiny)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--max-per-task", type=int, default=5000)
        parser.add_argument("--steps", type=int, help="training steps per point (tiny config)")
        parser.add_argument("--limit", type=int, help="evaluate at most this many records per task")
        parser.add_argument("--resume", type=int, help="continue series ID from its first unfinished point")
        parser.add_argument("--user", help="admin recorded as the author")
        parser.add_argument("--queue", action="store_true", help="leave the job to a Celery worker")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["resume"]:
            series = AblationSeries.objects.filter(pk=options["resume"], kind=options["kind"]).first()
            if series is None or series.job is None:
                raise CommandError(f"no {options['kind']} ablation series #{options['resume']}")
            from pipeline.jobs.runner import send_job
            from pipeline.models import Job, JobStatus

            Job.objects.filter(pk=series.job_id, status__in=[JobStatus.FAILED, JobStatus.CANCELLED]).update(
                status=JobStatus.QUEUED, error="", cancel_requested=False
            )
            if options["queue"]:
                send_job(series.job)
        else:
            if not options["counts"] or not options["export"]:
                raise CommandError("give --counts and --export (or --resume ID)")
            extra = {k: options[k] for k in ("steps",) if options[k] is not None}
            if options["limit"] is not None:
                extra["limit_per_task"] = options["limit"]
            try:
                series = start_series(
                    options["kind"],
                    options["counts"],
                    export_value=options["export"],
                    eval_tasks=options["eval_tasks"],
                    split=options["split"],
                    config=options["config"],
                    seed=options["seed"],
                    max_per_task=options["max_per_task"],
                    options=extra,
                    user=admin_user(options["user"]),
                )
            except (AblationError, EvaluationError) as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write(f"Ablation #{series.pk} ({series.kind}: {series.counts}), job #{series.job_id}")
        try:
            run_and_follow(series.job_id, self.stderr, options["queue"])
        finally:
            for point in curve(series):
                score = "—" if point["score"] is None else f"{point['score']:.1f}"
                self.stdout.write(f"  {point['count']:4}  ROUGE-L {score}")
        self.stdout.write(self.style.SUCCESS(f"curve at /evaluations/ablations/{series.pk}/"))
