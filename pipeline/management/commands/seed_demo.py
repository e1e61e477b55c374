from typing import Any

from django.core.management.base import BaseCommand, CommandError

from pipeline.demo.seeding import DEMO_USERS, demo_logins_file, demo_translation_model, seed_demo
from pipeline.jobs.cli import follow_jobs


class Command(BaseCommand):
    help = "Create the demo project: users (passwords printed), the M3IT registry, demo tasks and samples."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--seconds-per-sample",
            type=float,
            default=0.0,
            help="Slow the demo job down so its progress can be watched.",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="Follow the demo jobs with a progress bar until they end (needs a running worker).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        outcome = seed_demo(seconds_per_sample=options["seconds_per_sample"])
        model = demo_translation_model()
        if model is not None:
            self.stdout.write(f"Demo translation model (tiny, random weights) written to {model}")
        self.stdout.write(self.style.SUCCESS(f"Demo project ready. Logins (also in {demo_logins_file()}):"))
        role_of = {username: role for username, role, _ in DEMO_USERS}
        for username, password in outcome["logins"].items():
            self.stdout.write(f"  {username:<11} {password:<14} {role_of.get(username, '')}")
        if not outcome["jobs"]:
            return
        self.stdout.write(f"Demo jobs queued for the worker: {', '.join(f'#{pk}' for pk in outcome['jobs'])}")
        if options["wait"]:
            jobs = follow_jobs(outcome["jobs"], stream=self.stderr)
            failed = [
                f"#{job.pk} {job.status}: {job.error or job.display_message}"
                for job in jobs
                if job.status != "succeeded"
            ]
            if failed:
                raise CommandError("demo jobs did not succeed: " + "; ".join(failed))
            self.stdout.write(self.style.SUCCESS(f"{len(jobs)} demo jobs finished."))
