"""`manage.py train`: train on an export with a config, drawing a progress bar (pipeline.jobs.cli)."""

from __future__ import annotations

import threading
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from pipeline.jobs.cli import follow_jobs
from pipeline.jobs.runner import run_job
from pipeline.models import Job, JobStatus
from training import runs
from training.config import ConfigError, available_configs, parse_overrides
from training.models import TrainingRun
from training.tasks import train_model


class Command(BaseCommand):
    help = (
        "Train a BLIP-2 model on an approved export. Configs: training/configs/*.yaml "
        f"({', '.join(available_configs())}) or a .yaml file. The run is a Job on the gpu queue: run here "
        "by default, or by a worker with --queue; its page shows the live curves."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--export", required=True, help="export id, name, or the path of an export folder")
        parser.add_argument("--config", help="config name or .yaml file (not needed with --resume)")
        parser.add_argument(
            "--resume",
            type=int,
            nargs="?",
            const=0,
            metavar="RUN_ID",
            help="carry on a cancelled or failed run from its newest checkpoint (default: the export's latest run)",
        )
        parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="e.g. optim.max_steps=100")
        parser.add_argument("--user", help="username recorded as the run's author (an admin)")
        parser.add_argument("--queue", action="store_true", help="hand the job to a Celery worker and follow it")

    @staticmethod
    def _run_here(job_id: int) -> None:
        try:
            run_job(job_id, train_model.body)
        finally:
            connection.close()

    def handle(self, *args: Any, **options: Any) -> None:
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"], is_staff=True, is_active=True).first()
            if user is None:
                raise CommandError(f"no active admin called {options['user']!r}")
        try:
            if options["resume"] is not None:
                run = self._run_to_resume(options["resume"], options["export"])
                run = runs.resume_run(run, user)
            else:
                if not options["config"]:
                    raise CommandError("--config is required (a name or a .yaml file)")
                run = runs.start_run(user, options["export"], options["config"], parse_overrides(options["set"]))
        except (runs.TrainingError, ConfigError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Run #{run.pk} ({run.config_name} on {run.export_name}, digest {run.export_digest[:12]}): "
            f"job #{run.job_id}, folder {run.run_dir}"
        )
        if not options["queue"]:  # run it here; a worker that got the message first runs it instead
            threading.Thread(target=self._run_here, args=(run.job_id,), daemon=True).start()
        try:
            follow_jobs([run.job_id], stream=self.stderr)
        except KeyboardInterrupt:
            runs.cancel_run(run)
            self.stderr.write("Cancel requested: the run saves a checkpoint and stops (resume with --resume).")
            follow_jobs([run.job_id], stream=self.stderr)
        job = Job.objects.get(pk=run.job_id)
        run.refresh_from_db()
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(f"run #{run.pk} {run.status}: {job.error or job.message}")
        self.stdout.write(
            self.style.SUCCESS(f"run #{run.pk} completed: {run.step} steps, final loss {run.final_loss:.4f}")
        )
        if run.last_checkpoint:
            self.stdout.write(f"checkpoint {run.last_checkpoint['path']}")

    @staticmethod
    def _run_to_resume(run_id: int, export: str) -> TrainingRun:
        runs_of = TrainingRun.objects.select_related("job", "export")
        if run_id:
            run = runs_of.filter(pk=run_id).first()
        else:
            run = runs_of.filter(export__pk=int(export)).first() if export.isdigit() else None
            run = run or runs_of.filter(export_name=export.rstrip("/").rsplit("/", 1)[-1]).first()
        if run is None:
            raise CommandError("no run to resume (give its id: --resume RUN_ID)")
        return run
