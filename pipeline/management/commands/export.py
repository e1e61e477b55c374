"""`manage.py export`: write an export of the approved splits, with a progress bar (pipeline.jobs.cli)."""

from __future__ import annotations

import threading
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from annotator.models import Split
from pipeline.export import writer as exports
from pipeline.export.tasks import export_dataset
from pipeline.jobs.cli import follow_jobs
from pipeline.jobs.runner import run_job
from pipeline.models import Job, JobStatus


class Command(BaseCommand):
    help = (
        "Export approved splits in M3IT's layout under EXPORT_ROOT. Splits that are not approved are "
        "never written; the command lists what was left out and why."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--task",
            action="append",
            dest="tasks",
            metavar="SLUG",
            help="repeatable; default: every task with an approved split",
        )
        parser.add_argument(
            "--split", action="append", dest="splits", choices=Split.values, help="repeatable; default: all"
        )
        parser.add_argument("--user", help="username recorded as the export's author (an admin)")
        parser.add_argument(
            "--queue", action="store_true", help="hand the job to a Celery worker and follow its progress"
        )

    @staticmethod
    def _run_here(job_id: int) -> None:
        try:
            run_job(job_id, export_dataset.body)
        finally:
            connection.close()

    def handle(self, *args: Any, **options: Any) -> None:
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"], is_staff=True, is_active=True).first()
            if user is None:
                raise CommandError(f"no active admin called {options['user']!r}")
        try:
            export = exports.start_export(user, options["tasks"], options["splits"])
        except exports.ExportError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Export {export.name} (job #{export.job_id}): {len(export.included)} split(s)")
        for item in export.excluded:
            self.stdout.write(self.style.WARNING(f"  left out {item['task']}/{item['split']}: {item['reason']}"))

        if not options["queue"]:  # run it here; a worker that got the message first runs it instead
            threading.Thread(target=self._run_here, args=(export.job_id,), daemon=True).start()
        follow_jobs([export.job_id], stream=self.stderr)

        job = Job.objects.get(pk=export.job_id)
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(f"export {export.name} {job.status}: {job.error or job.display_message}")
        export.refresh_from_db()
        self.stdout.write(
            self.style.SUCCESS(
                f"{job.result.get('records', 0)} records in {export.file_count} files "
                f"({export.size_bytes / 1e6:.1f} MB) at {exports.export_dir(export)}"
            )
        )
        self.stdout.write(f"digest {export.digest}")
