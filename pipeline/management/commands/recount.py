from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm

from annotator.models import TaskSplit
from pipeline.samples.counts import recount


class Command(BaseCommand):
    help = (
        "Rebuild the sample counters kept on each task split (samples per split, paraphrase state and "
        "QC state) from the sample rows. Safe while workers write: each split is recounted under its lock."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        ids = list(TaskSplit.objects.order_by("pk").values_list("pk", flat=True))
        with tqdm(total=len(ids), unit="split", desc="Recounting", file=self.stderr) as bar:
            changed = recount(ids, progress=bar.update)
        self.stdout.write(self.style.SUCCESS(f"{changed} of {len(ids)} splits had counters that differed; fixed."))
