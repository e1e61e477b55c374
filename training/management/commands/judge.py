"""`manage.py judge --a EVAL --b EVAL`: the paper's pairwise LLM judgement, cost before and after."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from training.evaluation.judge import JudgeError, start_judge
from training.evaluation.llm import NoEndpoint, judge_config
from training.management.jobs import admin_user, run_and_follow
from training.models import Evaluation, JudgeComparison


class Command(BaseCommand):
    help = "Judge evaluation A against B with an LLM (both orders x 3 samples); prints wins, ties and losses."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--a", type=int, required=True, help="evaluation id of A (wins are A's)")
        parser.add_argument("--b", type=int, required=True, help="evaluation id of B")
        parser.add_argument("--model", default="", help="judge model (default JUDGE_MODEL)")
        parser.add_argument("--tasks", nargs="+", metavar="SLUG", help="default: every task both answered")
        parser.add_argument("--limit", type=int, help="judge a seeded draw of this many records (the paper: 300)")
        parser.add_argument("--budget", type=float, help="stop before spending more than this many US dollars")
        parser.add_argument("--yes", action="store_true", help="do not ask before spending")
        parser.add_argument("--user", help="admin recorded as the author")
        parser.add_argument("--queue", action="store_true", help="leave the job to a Celery worker")

    def handle(self, *args: Any, **options: Any) -> None:
        found = {e.pk: e for e in Evaluation.objects.filter(pk__in=[options["a"], options["b"]])}
        for key in ("a", "b"):
            if options[key] not in found:
                raise CommandError(f"no evaluation #{options[key]}")
        try:
            judge_config(options["model"] or None)  # no key: say so before anything is created
            comparison = start_judge(
                found[options["a"]],
                found[options["b"]],
                model=options["model"],
                tasks=options["tasks"],
                limit=options["limit"],
                budget_usd=options["budget"],
                user=admin_user(options["user"]),
            )
        except (JudgeError, NoEndpoint) as exc:
            raise CommandError(str(exc)) from exc
        est = comparison.estimate
        self.stdout.write(
            f"Judge #{comparison.pk}: {est['records']} records, {est['requests']} requests "
            f"({est['cached']} cached), about {est['tokens_in']} + {est['tokens_out']} tokens, "
            f"estimated ${est['cost_usd']:.4f} with {est['model']}"
        )
        run_and_follow(comparison.job_id, self.stderr, options["queue"])
        comparison = JudgeComparison.objects.get(pk=comparison.pk)
        c = comparison.counts
        rate = f" ({c['win_rate']} % won)" if c.get("win_rate") is not None else ""
        self.stdout.write(f"A won {c['wins']}, tie {c['ties']}, lost {c['losses']}{rate}; undecided {c['undecided']}")
        r = c.get("requests", {})
        self.stdout.write(
            f"sent {r.get('sent', 0)}, cached {r.get('cached', 0)}, retried {r.get('retried', 0)}, "
            f"dropped {r.get('dropped', 0)}; left over budget {c.get('left_over_budget', 0)}"
        )
        self.stdout.write(self.style.SUCCESS(f"spent ${comparison.spent_usd:.4f} (estimated ${est['cost_usd']:.4f})"))
