"""`manage.py import_source ADAPTER --task T --split S --folder DIR`: import a big source from disk with a
progress bar. Runs here by default (recorded as an import Job); --queue hands it to the workers and follows it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from pipeline.imports.adapters import ADAPTERS
from pipeline.imports.adapters.base import ImportInputError
from pipeline.imports.importer import start_import, validate_params
from pipeline.imports.tasks import import_source
from pipeline.jobs.cli import BarProgress, follow_jobs
from pipeline.jobs.runner import Progress, run_job
from pipeline.models import Job, JobKind, JobStatus


def _pairs(values: list[str], what: str) -> dict[str, Any]:
    """["a=1", "b=x"] → {"a": 1, "b": "x"}: values are read as JSON when they parse, else as text."""
    pairs: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise CommandError(f"{what} must look like name=value, not {item!r}")
        try:
            pairs[key] = json.loads(raw)
        except json.JSONDecodeError:
            pairs[key] = raw
    return pairs


class JobAndBar:
    """Progress written to the job row (the web page follows it) and drawn on the terminal."""

    def __init__(self, job_progress: Progress, bar: BarProgress) -> None:
        self.job_progress = job_progress
        self.bar = bar

    def update(
        self,
        done: int | None = None,
        total: int | None = None,
        message: str | None = None,
        force: bool = False,
        message_args: dict[str, Any] | None = None,
        **counters: Any,
    ) -> None:
        fields = {"done": done, "total": total, "message": message, "force": force, "message_args": message_args}
        self.job_progress.update(**fields, **counters)
        self.bar.update(**fields, **counters)


class Command(BaseCommand):
    help = "Import a source dataset split into a task (see --list for the adapters and the files each needs)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("adapter", nargs="?", help="adapter name, e.g. vqa-v2")
        parser.add_argument("--task", help="task slug, e.g. vqa-v2")
        parser.add_argument("--split", choices=["train", "val", "test"])
        parser.add_argument("--folder", help="folder holding the files (any folder on this machine)")
        parser.add_argument("--file", action="append", default=[], metavar="ROLE=PATH", help="file for a role")
        parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE", help="adapter option")
        parser.add_argument("--max-rejected", type=int, default=0, help="rows that may be rejected (default 0)")
        parser.add_argument("--batch-size", type=int, default=0, help="rows per committed batch")
        parser.add_argument("--user", help="record the job as started by this user")
        parser.add_argument("--queue", action="store_true", help="queue it for the Celery workers instead")
        parser.add_argument("--list", action="store_true", help="list the adapters and their files")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"] or not options["adapter"]:
            self._list()
            return
        for name in ("task", "split", "folder"):
            if not options[name]:
                raise CommandError(f"--{name} is required")
        params = {
            "adapter": options["adapter"],
            "task": options["task"],
            "split": options["split"],
            "folder": str(Path(options["folder"]).resolve()),
            "trusted_folder": True,
            "files": _pairs(options["file"], "--file"),
            "options": _pairs(options["option"], "--option"),
            "max_rejected": options["max_rejected"],
            "batch_size": options["batch_size"],
        }
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user {options['user']!r}")
        try:
            if options["queue"]:
                job = start_import(params, user)
                self.stdout.write(f"Import job #{job.pk} queued; following it (Ctrl-C stops following, not the job)")
                follow_jobs([job.pk], stream=self.stderr)
                job.refresh_from_db()
                self._report(job)
                return
            importer = validate_params(params)
        except ImportInputError as exc:
            raise CommandError(str(exc)) from exc
        job = Job.objects.create(
            kind=JobKind.IMPORT,
            task_name=import_source.name,
            queue=import_source.queue,
            params=params,
            task=importer.task,
            created_by=user,
            message="Started from the command line.",
        )
        bar = BarProgress("import", self.stderr, unit="row")
        try:
            run_job(job.pk, lambda job, progress: import_source.body(job, JobAndBar(progress, bar)))
        finally:
            bar.close()
        job.refresh_from_db()
        self._report(job)

    def _report(self, job: Job) -> None:
        """The outcome, and where the rejected rows are; a job that did not succeed exits non-zero
        (CommandError: the message, no traceback)."""
        result = job.result or {}
        report = f" All rejected rows: {result['report']} (in media storage)." if result.get("report") else ""
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(f"import job #{job.pk} {job.status}: {job.error or job.message}.{report}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Import job #{job.pk}: {result['created']} created, {result['skipped']} skipped as duplicates, "
                f"{result['rejected']} rejected, {result['images_stored']} new images, in {result['seconds']} s."
            )
        )
        if report:
            self.stdout.write(report.strip())

    def _list(self) -> None:
        for name, adapter in ADAPTERS.items():
            self.stdout.write(self.style.MIGRATE_HEADING(f"{name}: {adapter.label}"))
            self.stdout.write(f"  {adapter.description}")
            for spec in adapter.files:
                optional = "" if spec.required else " (optional)"
                self.stdout.write(
                    f"  --file {spec.role}=<{spec.kind}>  default {spec.default!r}{optional}: {spec.help}"
                )
            for option in adapter.options:
                self.stdout.write(
                    f"  --option {option.name}=<{option.kind}>  default {option.default!r}: {option.help}"
                )
