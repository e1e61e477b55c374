"""Stage IV from the command line: the plan, then a translation job followed with a progress bar."""

from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from pipeline.jobs.cli import follow_jobs
from pipeline.jobs.runner import run_job
from pipeline.translation import plan as plans
from pipeline.translation import runner
from pipeline.translation.backends.base import BackendConfig
from pipeline.translation.errors import TranslationError


class Command(BaseCommand):
    help = (
        "Translate the evaluation splits and instruction pools of the tasks marked for translation (M3IT "
        "Stage IV), as the Translation page does: prints the plan, starts the job on the gpu queue and follows "
        "it with a progress bar; --inline runs it in this process (no worker needed)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tasks", nargs="*", help="Task slugs (default: those marked for translation).")
        parser.add_argument("--languages", nargs="*", help="Short or NLLB codes (default: all).")
        parser.add_argument("--backend", choices=["transformers", "ctranslate2", "openai"], default=None)
        parser.add_argument("--model", default=None, help="Model name or folder (default: TRANSLATION_MODEL).")
        parser.add_argument("--plan-only", action="store_true", help="Print the plan and stop.")
        parser.add_argument("--calibrate", action="store_true", help="Time the backend here first (for the estimate).")
        parser.add_argument("--inline", action="store_true", help="Run here instead of waiting for a worker.")
        parser.add_argument("--no-wait", action="store_true", help="Start the job and return at once.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = BackendConfig.from_settings(backend=options["backend"], model=options["model"])
            if options["calibrate"]:
                job = runner.start_calibration(None, options["tasks"], config, options["languages"])
                run_job(job.pk, runner.run_calibration)
                job.refresh_from_db()
                if job.status != "succeeded":
                    raise CommandError(f"Calibration failed: {job.error}")
                self.stdout.write(f"Calibration: {job.result['pieces_per_second']} pieces/s ({config.backend}).")
            plan = plans.build_plan(options["tasks"], options["languages"], config)
        except TranslationError as exc:
            raise CommandError(str(exc)) from exc
        for item in plan.splits:
            self.stdout.write(f"  {item.label}: {len(item.sample_ids)} of {item.split_size} samples")
        eta = f"about {plan.estimate_seconds:.0f} s" if plan.estimate_seconds is not None else "not calibrated"
        self.stdout.write(
            f"{plan.samples} samples x {len(plan.languages)} languages · {plan.strings} distinct strings, "
            f"{plan.pieces} pieces ({plan.tokens} tokens) per language · {plan.pieces_cached} cached, "
            f"{plan.pieces_to_send} to send · {eta} · {config.backend} {config.model}"
        )
        if options["plan_only"]:
            return
        try:
            job = runner.start_translation(None, options["tasks"], options["languages"], config)
        except TranslationError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Started job #{job.pk}.")
        if options["no_wait"]:
            return
        inline = None
        if options["inline"]:
            inline = threading.Thread(target=_run_inline, args=(job.pk,), daemon=True)
            inline.start()
        [job] = follow_jobs([job.pk], stream=self.stderr)
        if inline:
            inline.join()
            job.refresh_from_db()
        style = self.style.SUCCESS if job.status == "succeeded" else self.style.ERROR
        self.stdout.write(style(f"Job #{job.pk} {job.status}: {job.message or job.error}"))


def _run_inline(job_id: int) -> None:
    try:
        run_job(job_id, runner.run_parent)
    finally:
        connection.close()
