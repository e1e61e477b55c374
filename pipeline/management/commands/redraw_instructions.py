from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotator.models import Task
from pipeline.samples.selection import count_samples, redraw_instructions


class Command(BaseCommand):
    help = (
        "Draw each sample's instruction again from its task's current pool (same recorded seeds) "
        "and say how many samples changed. Run it after a pool changed once samples were imported."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--task", action="append", dest="tasks", metavar="SLUG", help="Only this task (repeat).")
        parser.add_argument("--batch-size", type=int, default=2000)
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        slugs = options["tasks"]
        if slugs:
            missing = sorted(set(slugs) - set(Task.objects.filter(slug__in=slugs).values_list("slug", flat=True)))
            if missing:
                raise CommandError(f"No such task: {', '.join(missing)}")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        total = count_samples(slugs)
        with tqdm(total=total, unit="sample", desc="Redrawing", file=self.stderr, disable=False) as bar:
            outcome = redraw_instructions(slugs, options["batch_size"], options["dry_run"], on_batch=bar.update)
        verb = "would change" if options["dry_run"] else "changed"
        self.stdout.write(self.style.SUCCESS(f"{outcome.changed} of {outcome.samples} samples {verb} instruction."))
        for slug, count in sorted(outcome.per_task.items()):
            self.stdout.write(f"  {slug}: {count}")
