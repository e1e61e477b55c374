"""`manage.py evaluate`: score a training run (or an endpoint model, or a model folder) on an export split."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from training.evaluation.llm import NoEndpoint
from training.evaluation.run import EvaluationError, start_evaluation
from training.evaluation.tables import paper_tables, to_markdown
from training.management.jobs import admin_user, run_and_follow
from training.models import Backend, Evaluation


class Command(BaseCommand):
    help = (
        "Generate answers for an export's val or test split and score them with ROUGE-L per task and group. "
        "The model is a training run (--run), an OpenAI-compatible endpoint (--endpoint-model) or a saved "
        "model folder (--model-path)."
    )

    def add_arguments(self, parser: Any) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--run", type=int, help="training run id")
        who.add_argument("--endpoint-model", help="model name on the OpenAI-compatible endpoint (EVAL_ENDPOINT_*)")
        who.add_argument("--model-path", help="a saved BLIP-2-style model folder (or HF cache name)")
        parser.add_argument("--checkpoint", type=int, help="the run's checkpoint step (default: its last)")
        parser.add_argument("--export", required=True, help="export id or name, or an export folder")
        parser.add_argument("--split", default="val", choices=["val", "test"])
        parser.add_argument("--tasks", nargs="+", metavar="SLUG", help="default: every task of the split")
        parser.add_argument("--limit", type=int, help="at most this many records per task")
        parser.add_argument("--batch-size", type=int, default=8)
        parser.add_argument("--max-new-tokens", type=int, default=32)
        parser.add_argument("--chinese-priming", action="store_true", help="Appendix D's priming for Chinese tasks")
        parser.add_argument("--name", default="")
        parser.add_argument("--user", help="admin recorded as the author")
        parser.add_argument("--queue", action="store_true", help="leave the job to a Celery worker")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["run"] is not None:
            backend, model = Backend.RUN, ""
        elif options["endpoint_model"]:
            backend, model = Backend.ENDPOINT, options["endpoint_model"]
        else:
            backend, model = Backend.HF, options["model_path"]
        try:
            evaluation = start_evaluation(
                export_value=options["export"],
                split=options["split"],
                tasks=options["tasks"],
                backend=backend,
                run_id=options["run"],
                checkpoint=options["checkpoint"],
                model_name=model,
                name=options["name"],
                user=admin_user(options["user"]),
                options={
                    "limit_per_task": options["limit"],
                    "batch_size": options["batch_size"],
                    "max_new_tokens": options["max_new_tokens"],
                    "chinese_priming": options["chinese_priming"],
                },
            )
        except (EvaluationError, NoEndpoint) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Evaluation #{evaluation.pk} {evaluation.name} (job #{evaluation.job_id})")
        run_and_follow(evaluation.job_id, self.stderr, options["queue"])
        evaluation = Evaluation.objects.get(pk=evaluation.pk)
        results = evaluation.results
        for task, entry in results["tasks"].items():
            self.stdout.write(
                f"  {task:24} {entry['group']:14} {100 * entry['rouge_l']:6.1f}  ({entry['records']} records)"
            )
        for group, value in results["groups"].items():
            self.stdout.write(f"  group {group:18} {100 * value:6.1f}")
        for table in paper_tables([evaluation]):
            if table.has_ours():
                self.stdout.write("\n" + to_markdown(table))
        overall = results.get("overall")
        self.stdout.write(self.style.SUCCESS(f"ROUGE-L {100 * overall:.1f}" if overall is not None else "no records"))
