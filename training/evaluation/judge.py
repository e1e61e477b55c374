"""The paper's GPT-4 pairwise judgement (§4.2, Appendix E), debiased as in FairEval.

For each record both evaluations answered: the question, the reference and the two answers go to
the judge, which scores each answer 1-10 for accuracy, relevance and naturalness in one overall
score. Both orders (A as Assistant 1, then B as Assistant 1) x `samples` samples at temperature 1:
up to six scores per answer, averaged; the higher mean wins, equal means tie. A reply without both
labelled scores in 1..10 is asked again (JUDGE_PARSE_RETRIES times), then dropped and counted; a
record with no valid sample is "undecided". Valid replies are cached per (model, prompt version,
messages, sample number), so a rerun pays nothing; records already judged are skipped on resume.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import regex
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import JudgeCache, JudgeComparison, JudgeRecord, Prediction, Verdict
from .llm import ChatRequest, ChatResult, LLMConfig, judge_config, stream_results

PROMPT_VERSION = "judge-v1"
ORDERS = ("ab", "ba")  # "ab": evaluation A is Assistant 1
CHUNK = 25  # records per round of requests (and per write)

SYSTEM = (
    "We would like you to judge the answers of two AI assistants to the question above about an image. "
    "You do not see the image: you see the question and a reference answer. Judge each answer on accuracy "
    "(is it consistent with the reference answer?), relevance (does it answer the question about the image?) "
    "and naturalness (is it fluent and engaging?), and give each assistant one overall score from 1 to 10, "
    "where higher is better. First explain your evaluation; avoid any bias from the order in which the "
    "answers are shown or from their length. Reply in exactly three lines:\n"
    "Evaluation evidence: <your explanation>\n"
    "The score of Assistant 1: <score>\n"
    "The score of Assistant 2: <score>"
)

_NUMBER = r"\**\s*[:\uff1a]?\s*\**\s*(\d+(?:\.\d+)?)\s*(?:/\s*10)?"
SCORE_1 = regex.compile(r"score\s+of\s+assistant\s*1" + _NUMBER, regex.IGNORECASE)
SCORE_2 = regex.compile(r"score\s+of\s+assistant\s*2" + _NUMBER, regex.IGNORECASE)


def judge_messages(question: str, reference: str, answer_1: str, answer_2: str) -> list[dict[str, str]]:
    content = (
        f"[Question]\n{question}\n\n"
        f"[The Start of Reference Answer]\n{reference}\n[The End of Reference Answer]\n\n"
        f"[The Start of Assistant 1's Answer]\n{answer_1}\n[The End of Assistant 1's Answer]\n\n"
        f"[The Start of Assistant 2's Answer]\n{answer_2}\n[The End of Assistant 2's Answer]\n\n"
        f"[System]\n{SYSTEM}"
    )
    return [
        {"role": "system", "content": "You are a helpful and precise assistant for checking the quality of answers."},
        {"role": "user", "content": content},
    ]


def parse_scores(text: str) -> tuple[float, float] | None:
    """(score of Assistant 1, score of Assistant 2), or None when either is missing or outside 1..10.
    The last labelled line wins (a judge may quote the labels in its evidence)."""
    first, second = SCORE_1.findall(text), SCORE_2.findall(text)
    if not first or not second:
        return None
    one, two = float(first[-1]), float(second[-1])
    if not (1 <= one <= 10 and 1 <= two <= 10):
        return None
    return one, two


def decide(score_a: float | None, score_b: float | None) -> str:
    if score_a is None or score_b is None:
        return Verdict.UNDECIDED
    if abs(score_a - score_b) < 1e-9:
        return Verdict.TIE
    return Verdict.WIN if score_a > score_b else Verdict.LOSS


def price_micro_usd(tokens_in: int, tokens_out: int) -> int:
    return round(tokens_in * settings.JUDGE_PRICE_INPUT_PER_MTOK + tokens_out * settings.JUDGE_PRICE_OUTPUT_PER_MTOK)


def prompt_tokens_upper(messages: list[dict[str, str]]) -> int:
    """Byte-level BPE never makes more tokens than UTF-8 bytes; plus framing per message."""
    return sum(len(m["content"].encode()) + 16 for m in messages)


def prompt_tokens_likely(messages: list[dict[str, str]]) -> int:
    return sum(len(m["content"]) // 4 + 8 for m in messages)


@dataclass
class Item:
    task: str
    record_id: str
    question: str
    reference: str
    answer_a: str
    answer_b: str

    def messages(self, order: str) -> list[dict[str, str]]:
        one, two = (self.answer_a, self.answer_b) if order == "ab" else (self.answer_b, self.answer_a)
        return judge_messages(self.question, self.reference, one, two)


def cache_key(model: str, messages: list[dict[str, str]], sample: int) -> str:
    blob = json.dumps([PROMPT_VERSION, model, messages, sample], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def items_for(comparison: JudgeComparison) -> list[Item]:
    """Records both evaluations answered (restricted to `tasks`), a seeded draw of `limit` of them."""
    fields = ("task", "record_id", "prompt", "prediction", "reference")
    a_rows = Prediction.objects.filter(evaluation=comparison.evaluation_a)
    b_rows = Prediction.objects.filter(evaluation=comparison.evaluation_b)
    if comparison.tasks:
        a_rows, b_rows = a_rows.filter(task__in=comparison.tasks), b_rows.filter(task__in=comparison.tasks)
    answers_b = {(r["task"], r["record_id"]): r["prediction"] for r in b_rows.values("task", "record_id", "prediction")}
    items = []
    for row in a_rows.values(*fields).iterator(chunk_size=2000):
        key = (row["task"], row["record_id"])
        if key in answers_b:
            items.append(
                Item(
                    row["task"],
                    row["record_id"],
                    _question(row["prompt"]),
                    row["reference"],
                    row["prediction"],
                    answers_b[key],
                )
            )
    if comparison.limit is not None and len(items) > comparison.limit:
        items = sorted(random.Random(0).sample(items, comparison.limit), key=lambda i: (i.task, i.record_id))
    return items


def _question(prompt: str) -> str:
    """The instruction and inputs of a stored training prompt, without the human/bot markers."""
    text = prompt.rsplit("<human>:", 1)[-1]
    return text.replace("<bot>:", "").strip()


def estimate(items: list[Item], model: str, samples: int) -> dict[str, Any]:
    """Requests, likely tokens and cost before anything is sent; cached replies cost nothing."""
    keys, likely_in = [], 0
    per_key_tokens: dict[str, int] = {}
    for item in items:
        for order in ORDERS:
            messages = item.messages(order)
            tokens = prompt_tokens_likely(messages)
            for sample in range(samples):
                key = cache_key(model, messages, sample)
                keys.append(key)
                per_key_tokens[key] = tokens
    cached = set(JudgeCache.objects.filter(key__in=keys).values_list("key", flat=True)) if keys else set()
    to_send = [k for k in keys if k not in cached]
    likely_in = sum(per_key_tokens[k] for k in to_send)
    likely_out = len(to_send) * settings.JUDGE_EST_OUTPUT_TOKENS
    return {
        "records": len(items),
        "requests": len(keys),
        "cached": len(keys) - len(to_send),
        "to_send": len(to_send),
        "tokens_in": likely_in,
        "tokens_out": likely_out,
        "cost_usd": round(price_micro_usd(likely_in, likely_out) / 1e6, 4),
        "model": model,
    }


@dataclass
class _Sample:
    order: str
    sample: int
    key: str
    messages: list[dict[str, str]]
    scores: tuple[float, float] | None = None
    attempts: int = 0
    cached: bool = False
    error: str = ""


@dataclass
class Tally:
    counts: Counter = field(default_factory=Counter)
    spent_micro: int = 0


def _send(
    config: LLMConfig, pending: list[_Sample], client_factory: Any, tally: Tally
) -> list[tuple[_Sample, ChatResult]]:
    requests = [ChatRequest(key=str(i), messages=s.messages) for i, s in enumerate(pending)]  # type: ignore[arg-type]
    out = []
    for result in stream_results(config, requests, client_factory):
        sample = pending[int(result.key)]
        sample.attempts += 1
        tally.counts["sent"] += 1
        tally.spent_micro += price_micro_usd(result.tokens_in, result.tokens_out)
        out.append((sample, result))
    return out


def judge_chunk(
    items: list[Item], config: LLMConfig, samples: int, retries: int, tally: Tally, client_factory: Any = None
) -> list[tuple[Item, list[_Sample]]]:
    """All samples of these records: cached replies first, the rest sent (and re-sent when unusable)."""
    plan: list[tuple[Item, list[_Sample]]] = []
    for item in items:
        row = []
        for order in ORDERS:
            messages = item.messages(order)
            row += [_Sample(order, s, cache_key(config.model, messages, s), messages) for s in range(samples)]
        plan.append((item, row))
    every = [s for _, row in plan for s in row]
    cached = {c.key: c.response for c in JudgeCache.objects.filter(key__in=[s.key for s in every])}
    pending = []
    for sample in every:
        if sample.key in cached:
            sample.scores, sample.cached = parse_scores(cached[sample.key]), True
            tally.counts["cached"] += 1
        else:
            pending.append(sample)
    for round_ in range(retries + 1):
        if not pending:
            break
        again, fresh = [], []
        for sample, result in _send(config, pending, client_factory, tally):
            scores = parse_scores(result.text) if result.ok else None
            if scores is None:
                sample.error = result.error or "unusable reply: " + result.text[:200]
                again.append(sample)
                continue
            sample.scores, sample.error = scores, ""
            fresh.append(
                JudgeCache(
                    key=sample.key,
                    model=config.model,
                    response=result.text,
                    tokens_in=result.tokens_in,
                    tokens_out=result.tokens_out,
                )
            )
        JudgeCache.objects.bulk_create(fresh, ignore_conflicts=True)
        if round_ < retries:
            tally.counts["retried"] += len(again)
        pending = again
    tally.counts["dropped"] += len(pending)
    return plan


def record_of(comparison: JudgeComparison, item: Item, samples: list[_Sample]) -> JudgeRecord:
    a_scores, b_scores = [], []
    for s in samples:
        if s.scores is None:
            continue
        one, two = s.scores
        a, b = (one, two) if s.order == "ab" else (two, one)
        a_scores.append(a)
        b_scores.append(b)
    score_a = sum(a_scores) / len(a_scores) if a_scores else None
    score_b = sum(b_scores) / len(b_scores) if b_scores else None
    return JudgeRecord(
        comparison=comparison,
        task=item.task,
        record_id=item.record_id,
        question=item.question,
        reference=item.reference,
        answer_a=item.answer_a,
        answer_b=item.answer_b,
        score_a=score_a,
        score_b=score_b,
        verdict=decide(score_a, score_b),
        samples=[
            {
                "order": s.order,
                "sample": s.sample,
                "scores": list(s.scores) if s.scores else None,
                "attempts": s.attempts,
                "cached": s.cached,
                "error": s.error,
            }
            for s in samples
        ],
    )


def summary(comparison: JudgeComparison) -> dict[str, Any]:
    """Wins, ties and losses (from A's side) and the win rate, like Figure 4."""
    verdicts = Counter(comparison.records.values_list("verdict", flat=True))
    wins, ties, losses = verdicts[Verdict.WIN], verdicts[Verdict.TIE], verdicts[Verdict.LOSS]
    decided = wins + ties + losses
    return {
        "wins": wins,
        "ties": ties,
        "losses": losses,
        "undecided": verdicts[Verdict.UNDECIDED],
        "win_rate": round(100 * wins / decided, 1) if decided else None,
    }


def run_judge(
    comparison: JudgeComparison, progress: Any, client_factory: Callable[[], Any] | None = None
) -> dict[str, Any]:
    """Judge every record not judged yet, CHUNK records at a time; stops before the budget is passed."""
    config = judge_config(comparison.model)
    samples, retries = comparison.samples_per_order, settings.JUDGE_PARSE_RETRIES
    items = items_for(comparison)
    if not comparison.estimate:
        comparison.estimate = estimate(items, config.model, samples)
        comparison.save(update_fields=["estimate"])
    done = set(comparison.records.values_list("task", "record_id"))
    todo = [i for i in items if (i.task, i.record_id) not in done]
    progress.update(
        done=len(items) - len(todo), total=len(items), message=f"est. ${comparison.estimate['cost_usd']:.4f}"
    )
    tally = Tally(Counter(comparison.counts.get("requests", {})), round(comparison.spent_usd * 1e6))
    left = 0
    for start in range(0, len(todo), CHUNK):
        chunk = todo[start : start + CHUNK]
        if comparison.budget_usd is not None:
            worst = sum(
                price_micro_usd(prompt_tokens_upper(i.messages(o)), config.max_tokens) * samples * (retries + 1)
                for i in chunk
                for o in ORDERS
            )
            if tally.spent_micro + worst > comparison.budget_usd * 1e6:
                left = len(todo) - start
                break
        plan = judge_chunk(chunk, config, samples, retries, tally, client_factory)
        with transaction.atomic():
            JudgeRecord.objects.bulk_create(
                [record_of(comparison, item, row) for item, row in plan], ignore_conflicts=True
            )
            comparison.spent_usd = tally.spent_micro / 1e6
            comparison.counts = summary(comparison) | {"requests": dict(tally.counts), "left_over_budget": 0}
            comparison.save(update_fields=["spent_usd", "counts"])
        progress.add(len(chunk))
        progress.update(message=f"${comparison.spent_usd:.4f} spent of est. ${comparison.estimate['cost_usd']:.4f}")
    comparison.counts = summary(comparison) | {"requests": dict(tally.counts), "left_over_budget": left}
    comparison.spent_usd = tally.spent_micro / 1e6
    comparison.completed_at = timezone.now()
    comparison.save(update_fields=["counts", "spent_usd", "completed_at"])
    return comparison.counts | {"spent_usd": comparison.spent_usd, "estimate_usd": comparison.estimate["cost_usd"]}


class JudgeError(Exception):
    """The comparison cannot run as asked; the message says why."""


def start_judge(
    evaluation_a: Any,
    evaluation_b: Any,
    *,
    model: str = "",
    tasks: list[str] | None = None,
    limit: int | None = None,
    budget_usd: float | None = None,
    user: Any = None,
) -> JudgeComparison:
    """Create the comparison with its cost estimate, and its queued Job."""
    from pipeline.jobs.runner import start_job
    from pipeline.models import JobKind

    if evaluation_a.pk == evaluation_b.pk:
        raise JudgeError("compare two different evaluations")
    if budget_usd is not None and budget_usd < 0:
        raise JudgeError("the budget cannot be negative")
    comparison = JudgeComparison(
        evaluation_a=evaluation_a,
        evaluation_b=evaluation_b,
        model=model or settings.JUDGE_MODEL,
        tasks=sorted(tasks or []),
        limit=limit,
        samples_per_order=settings.JUDGE_SAMPLES_PER_ORDER,
        budget_usd=budget_usd,
        created_by=user if user is not None and getattr(user, "is_authenticated", False) else None,
    )
    items = items_for(comparison)
    if not items:
        raise JudgeError(f"evaluations #{evaluation_a.pk} and #{evaluation_b.pk} share no answered record")
    comparison.estimate = estimate(items, comparison.model, comparison.samples_per_order)
    comparison.save()
    comparison.job = start_job(
        JobKind.JUDGE,
        "training.tasks.judge",
        user=user,
        params={"comparison": comparison.pk},
        total=len(items),
        message=f"Judge {len(items)} records, est. ${comparison.estimate['cost_usd']:.4f}.",
    )
    comparison.save(update_fields=["job"])
    return comparison
