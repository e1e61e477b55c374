from django.core.management.base import BaseCommand

from annotator.registry import load_tasks


class Command(BaseCommand):
    help = "Load the 40 M3IT tasks of the registry (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        created, updated = load_tasks()
        self.stdout.write(self.style.SUCCESS(f"M3IT registry: {created} tasks created, {updated} updated."))
