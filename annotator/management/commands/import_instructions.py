from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotator import pool
from annotator.models import Task


class Command(BaseCommand):
    help = (
        "Replace a task's instruction pool with an M3IT instructions.json (a JSON list of strings). "
        "All or nothing; instructions kept (ignoring case and spaces) keep their samples."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("task", help="Task slug, e.g. vqa-v2.")
        parser.add_argument("path", type=Path, help="The instructions.json file.")
        parser.add_argument("--as", dest="username", required=True, help="Admin username recorded in the history.")

    def handle(self, *args: Any, **options: Any) -> None:
        task = Task.objects.filter(slug=options["task"]).first()
        if task is None:
            raise CommandError(f"No such task: {options['task']}")
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No such user: {options['username']}")
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            texts = pool.parse_instructions_json(path.read_bytes())
            outcome = pool.import_pool(task, user, texts)
        except pool.PoolError as exc:
            raise CommandError(f"Nothing was imported from {path}: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{task.slug}: {len(texts)} instructions ({outcome['created']} new, {outcome['kept']} kept, "
                f"{outcome['removed']} removed)."
            )
        )
