"""Stage II from the command line: estimate, start, and follow a paraphrase job with a progress bar."""

from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from pipeline.jobs.cli import follow_jobs
from pipeline.jobs.runner import run_job
from pipeline.paraphrase import runner as paraphrase_run
from pipeline.paraphrase.tasks import paraphrase_answers


class Command(BaseCommand):
    help = (
        "Paraphrase the short answers of some splits (M3IT Stage II). Prints the estimate, starts the job on "
        "the llm queue and follows it with a progress bar; --inline runs it in this process (no worker needed)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("splits", nargs="+", help="task/split, e.g. vqa-v2/train")
        parser.add_argument("--budget", type=float, default=None, help="Budget cap in US dollars (default: none).")
        parser.add_argument("--retry-request-failures", action="store_true", help="Retry samples the model missed.")
        parser.add_argument("--estimate-only", action="store_true", help="Print the estimate and stop.")
        parser.add_argument("--inline", action="store_true", help="Run here instead of waiting for a worker.")
        parser.add_argument("--no-wait", action="store_true", help="Start the job and return at once.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            task_splits = paraphrase_run.parse_split_labels(options["splits"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        plan = paraphrase_run.estimate(task_splits, options["retry_request_failures"])
        if not plan.has_api_key:
            self.stdout.write(self.style.WARNING("No OPENAI_API_KEY: every answer gets the template sentence."))
        self.stdout.write(
            f"{plan.samples} samples · model {plan.model} · about {plan.tokens_in} tokens in, "
            f"{plan.tokens_out} out · estimated ${plan.cost_usd:.4f}"
        )
        if plan.kept_corrected:
            self.stdout.write(f"{plan.kept_corrected} samples corrected by QC are left as they are.")
        if options["estimate_only"] or not plan.samples:
            return
        try:
            job = paraphrase_run.start_paraphrase(
                task_splits, None, options["budget"], options["retry_request_failures"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Started job #{job.pk}.")
        if options["no_wait"]:
            return
        runner = None
        if options["inline"]:
            runner = threading.Thread(target=_run_inline, args=(job.pk,), daemon=True)
            runner.start()
        [job] = follow_jobs([job.pk], stream=self.stderr)
        if runner:
            runner.join()
            job.refresh_from_db()
        style = self.style.SUCCESS if job.status == "succeeded" else self.style.ERROR
        self.stdout.write(style(f"Job #{job.pk} {job.status}: {job.display_message or job.error}"))


def _run_inline(job_id: int) -> None:
    try:
        run_job(job_id, paraphrase_answers.body)
    finally:
        connection.close()
