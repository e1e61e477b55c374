from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from annotator import pool
from annotator.models import Task


class Command(BaseCommand):
    help = (
        "Write tasks' instruction pools as M3IT instructions.json files: one task to a file (or stdout), "
        "or --all into <dir>/<folder>/<task_dir>/instructions.json, the published layout."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("task", nargs="?", help="Task slug; leave out with --all.")
        parser.add_argument("--output", "-o", type=Path, help="File (one task) or directory (--all); default stdout.")
        parser.add_argument("--all", action="store_true", help="Every task that has instructions.")

    def handle(self, *args: Any, **options: Any) -> None:
        output: Path | None = options["output"]
        if options["all"]:
            if output is None:
                raise CommandError("--all needs --output DIR")
            tasks = Task.objects.filter(instructions__isnull=False).distinct().order_by("slug")
            for task in tasks:
                target = output / task.folder / task.task_dir / "instructions.json"
                target.parent.mkdir(parents=True, exist_ok=True)
                self._write(target, pool.export_json(task))
            self.stdout.write(self.style.SUCCESS(f"Wrote {tasks.count()} instructions.json files under {output}."))
            return
        if not options["task"]:
            raise CommandError("Name a task slug, or use --all --output DIR.")
        task = Task.objects.filter(slug=options["task"]).first()
        if task is None:
            raise CommandError(f"No such task: {options['task']}")
        text = pool.export_json(task)
        if output is None:
            self.stdout.write(text, ending="")
            return
        self._write(output, text)
        count = task.instructions.count()
        self.stdout.write(self.style.SUCCESS(f"Wrote {count} instructions of {task.slug} to {output}."))

    @staticmethod
    def _write(path: Path, text: str) -> None:
        """Write next to the target and rename, so a reader never sees half a file."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
