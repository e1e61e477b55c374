"""Running Stage II over samples: selection, estimate, budget, and the chunked job.

A paraphrase job (the parent) splits its pending samples into chunks; each chunk is a child Job on
the `llm` queue, so idle workers take chunks in parallel, and the parent itself works through any
chunk nobody has claimed (so one worker alone finishes everything). Each chunk writes results in
small transactions as they arrive: a sample is either still pending or has its final output and
full provenance, never half of it. Paid answers go to ParaphraseCache in the same transaction, so a
rerun (after a killed worker, or a new job) never pays for the same request twice.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Length
from django.utils import timezone

from annotator.models import TaskSplit
from pipeline.jobs.runner import JobCancelled, JobLost, Progress, request_cancel, run_job, start_job
from pipeline.models import (
    Job,
    JobKind,
    JobStatus,
    ParaphraseBudget,
    ParaphraseCache,
    ParaphraseState,
    Sample,
    SampleQCState,
)
from pipeline.paraphrase import prompt as paraphrase
from pipeline.paraphrase.llm import ChatRequest, ChatResult, LLMConfig, stream_results
from pipeline.samples import counts
from pipeline.samples.locks import lock_samples, lock_splits

COUNTERS = ("accepted", "fallback", "failed", "cached", "requests", "retries", "tokens_in", "tokens_out")
WRITE_EVERY_SECONDS = 0.25
WRITE_EVERY_RESULTS = 50
RESERVED = "reserved_micro_usd"  # a chunk job's counter: budget it holds reserved and has not settled yet
# A chunk job's counters: the worst case of its requests on the wire (sent, not yet written), and what an
# attempt that died with requests on the wire left unknown, counted as spent at that worst case.
ON_THE_WIRE = "on_the_wire_micro_usd"
UNANSWERED = "unanswered_micro_usd"


# --- selection and estimate -------------------------------------------------------------------


def parse_split_labels(labels: Iterable[str]) -> list[TaskSplit]:
    """Labels like vqa-v2/train to TaskSplit rows; raises ValueError naming what does not exist."""
    wanted = {tuple(label.strip().split("/", 1)) for label in labels if label.strip()}
    if any(len(pair) != 2 for pair in wanted):
        raise ValueError("Splits are written task/split, e.g. vqa-v2/train.")
    query = Q(pk__in=[])
    for slug, split in wanted:
        query |= Q(task__slug=slug, split=split)
    found = list(TaskSplit.objects.filter(query).select_related("task"))
    missing = wanted - {(ts.task.slug, ts.split) for ts in found}
    if missing:
        raise ValueError("Unknown split(s): " + ", ".join(sorted(f"{a}/{b}" for a, b in missing)))
    return found


def samples_of(task_splits: Iterable[TaskSplit]) -> QuerySet[Sample]:
    query = Q(pk__in=[])
    for ts in task_splits:
        query |= Q(task_id=ts.task_id, split=ts.split)
    return Sample.objects.filter(query)


# A reviewer's correction is the last word on a sample's outputs: paraphrasing never rewrites it.
CORRECTED_BY_QC = Q(qc_state=SampleQCState.CORRECTED)


def _waiting(task_splits: Iterable[TaskSplit], retry_request_failures: bool) -> QuerySet[Sample]:
    states = Q(paraphrase_state=ParaphraseState.PENDING)
    if retry_request_failures:
        states |= Q(paraphrase_state=ParaphraseState.FALLBACK, paraphrase__reason=paraphrase.Reason.REQUEST_FAILED)
    return samples_of(task_splits).filter(states)


def pending_samples(task_splits: Iterable[TaskSplit], retry_request_failures: bool = False) -> QuerySet[Sample]:
    """The samples a run would paraphrase: waiting ones, except those a reviewer corrected."""
    return _waiting(task_splits, retry_request_failures).exclude(CORRECTED_BY_QC)


def price_micro_usd(tokens_in: int, tokens_out: int) -> int:
    """Dollars per million tokens are micro-dollars per token."""
    return round(
        tokens_in * settings.PARAPHRASE_PRICE_INPUT_PER_MTOK + tokens_out * settings.PARAPHRASE_PRICE_OUTPUT_PER_MTOK
    )


@dataclass(frozen=True)
class Estimate:
    samples: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
    model: str
    has_api_key: bool
    price_in_per_mtok: float
    price_out_per_mtok: float
    kept_corrected: int = 0  # waiting samples left alone because QC corrected them


def estimate(task_splits: list[TaskSplit], retry_request_failures: bool = False) -> Estimate:
    """Samples to paraphrase and their likely tokens and cost, from one aggregate query."""
    todo = ~CORRECTED_BY_QC
    agg = _waiting(task_splits, retry_request_failures).aggregate(
        n=Count("id", filter=todo),
        q=Sum(Length("inputs"), filter=todo),
        a=Sum(Length("original_output"), filter=todo),
        kept=Count("id", filter=CORRECTED_BY_QC),
    )
    n = agg["n"] or 0
    tokens_in = n * paraphrase.estimate_prompt_tokens(0, 0) + ((agg["q"] or 0) + (agg["a"] or 0)) // 4
    tokens_out = n * settings.PARAPHRASE_EST_OUTPUT_TOKENS
    has_key = bool(settings.OPENAI_API_KEY)
    cost = price_micro_usd(tokens_in, tokens_out) / 1e6 if has_key else 0.0
    return Estimate(
        samples=n,
        tokens_in=tokens_in if has_key else 0,
        tokens_out=tokens_out if has_key else 0,
        cost_usd=round(cost, 4),
        model=settings.PARAPHRASE_MODEL,
        has_api_key=has_key,
        price_in_per_mtok=settings.PARAPHRASE_PRICE_INPUT_PER_MTOK,
        price_out_per_mtok=settings.PARAPHRASE_PRICE_OUTPUT_PER_MTOK,
        kept_corrected=agg["kept"] or 0,
    )


def start_paraphrase(
    task_splits: list[TaskSplit],
    user: Any,
    budget_usd: float | None = None,
    retry_request_failures: bool = False,
) -> Job:
    """Create the parent job and its budget ledger; the job is enqueued when the transaction commits."""
    if budget_usd is not None and budget_usd < 0:
        raise ValueError("The budget cannot be negative.")
    labels = {f"{ts.task.slug}/{ts.split}" for ts in task_splits}
    tasks = {ts.task for ts in task_splits}
    with transaction.atomic():
        # The split rows are locked while we look for a running job and create ours, so two admins
        # starting at the same moment cannot both pass the check: the second waits, then sees the first.
        list(TaskSplit.objects.select_for_update().filter(pk__in=[ts.pk for ts in task_splits]).order_by("pk"))
        busy = (
            Job.objects.filter(kind=JobKind.PARAPHRASE)
            .exclude(status__in=Job.TERMINAL)
            .exclude(params__has_key="parent")
        )
        for other in busy.only("id", "params"):
            overlap = labels & set(other.params.get("splits", []))
            if overlap:
                raise ValueError(
                    f"Job #{other.pk} is already paraphrasing {', '.join(sorted(overlap))}: wait for it or cancel it."
                )
        plan = estimate(task_splits, retry_request_failures)
        job = start_job(
            JobKind.PARAPHRASE,
            "pipeline.paraphrase.tasks.paraphrase_answers",
            user=user,
            params={
                "splits": sorted(f"{ts.task.slug}/{ts.split}" for ts in task_splits),
                "model": plan.model,
                "prompt_version": paraphrase.PROMPT_VERSION,
                "template_only": not plan.has_api_key,
                "budget_usd": budget_usd,
                "retry_request_failures": retry_request_failures,
                "estimate": {
                    "samples": plan.samples,
                    "tokens_in": plan.tokens_in,
                    "tokens_out": plan.tokens_out,
                    "cost_usd": plan.cost_usd,
                },
            },
            total=plan.samples,
            for_task=next(iter(tasks)) if len(tasks) == 1 else None,
            message="Queued." if plan.has_api_key else "Queued (no API key: template fallback only).",
        )
        ParaphraseBudget.objects.create(
            job=job, limit_micro_usd=None if budget_usd is None else round(budget_usd * 1e6)
        )
    return job


# --- the parent job ----------------------------------------------------------------------------


def chunks_of(parent: Job) -> QuerySet[Job]:
    return Job.objects.filter(kind=JobKind.PARAPHRASE, params__parent=parent.pk).order_by("id")


def _fan_out(parent: Job) -> list[Job]:
    """Create the chunk jobs once (all or nothing); a resumed parent finds them again.

    Samples that make the identical request go into the same chunk, so that it is sent once even
    when several workers run chunks at the same moment.
    """
    existing = list(chunks_of(parent))
    if existing:
        return existing
    task_splits = parse_split_labels(parent.params["splits"])
    size = max(1, int(parent.params.get("chunk_size") or settings.PARAPHRASE_CHUNK_SIZE))
    model = parent.params.get("model") or settings.PARAPHRASE_MODEL
    with transaction.atomic():
        selected = pending_samples(task_splits, parent.params.get("retry_request_failures", False))
        groups: dict[str, list[int]] = {}
        rows = selected.order_by("id").values_list("id", "inputs", "original_output", "outputs", "meta")
        for pk, question, original, output, meta in rows.iterator(chunk_size=2000):
            key = paraphrase.cache_key(model, question, original or output, context_of(meta))
            groups.setdefault(key, []).append(pk)
        if parent.params.get("retry_request_failures"):
            counts.set_states(
                selected.filter(paraphrase_state=ParaphraseState.FALLBACK), paraphrase_state=ParaphraseState.PENDING
            )
        parts: list[list[int]] = [[]]
        for ids in groups.values():
            if parts[-1] and len(parts[-1]) + len(ids) > size:
                parts.append([])
            parts[-1].extend(ids)
        parts = [part for part in parts if part]
        for index, part in enumerate(parts):
            start_job(
                JobKind.PARAPHRASE,
                "pipeline.paraphrase.tasks.paraphrase_chunk",
                user=parent.created_by,
                params={"parent": parent.pk, "chunk": index + 1, "of": len(parts), "sample_ids": part},
                total=len(part),
                for_task=parent.task,
                message=f"Chunk {index + 1} of {len(parts)} of job #{parent.pk}.",
            )
    return list(chunks_of(parent))


def aggregate_chunks(parent: Job) -> dict[str, Any]:
    """Sum the chunks' progress and counters (one query)."""
    done = 0
    totals: dict[str, float] = defaultdict(float)
    states: dict[str, int] = defaultdict(int)
    for row in chunks_of(parent).values("done", "counters", "status"):
        done += row["done"]
        states[row["status"]] += 1
        for key, value in (row["counters"] or {}).items():
            if isinstance(value, int | float):
                totals[key] += value
    counters = {key: int(totals.get(key, 0)) for key in COUNTERS}
    counters["cost_usd"] = round(totals.get("cost_usd", 0.0), 6)
    if totals.get("left_pending"):
        counters["left_pending"] = int(totals["left_pending"])
    return {"done": done, "counters": counters, "states": dict(states)}


def run_parent(job: Job, progress: Progress) -> dict[str, Any]:
    """Fan out chunks, work through any nobody has claimed, and follow the rest to the end."""
    chunks = _fan_out(job)
    total = sum(chunk.total or 0 for chunk in chunks)
    template_only = job.params.get("template_only")
    note = " (no API key: template fallback only)" if template_only else ""
    progress.update(total=total, message=f"{len(chunks)} chunk(s) of up to {total} samples{note}", force=True)
    try:
        while True:
            open_ids = list(chunks_of(job).exclude(status__in=Job.TERMINAL).values_list("id", flat=True))
            if not open_ids:
                break
            ran = False
            # From the last chunk back: idle workers take the queue's messages from the first one on,
            # so the parent and the helpers meet in the middle instead of racing for the same chunks.
            for chunk_id in reversed(open_ids):
                ran = run_job(chunk_id, run_chunk) is not None or ran
                _report(job, progress, total, note)
            if not ran:
                time.sleep(0.5)
                _report(job, progress, total, note)
    except JobCancelled:
        for chunk in chunks_of(job).exclude(status__in=Job.TERMINAL):
            request_cancel(chunk)
        raise
    summary = _report(job, progress, total, note, force=True)
    failed = summary["states"].get(JobStatus.FAILED, 0)
    if failed:
        raise RuntimeError(f"{failed} chunk(s) failed; see the chunk jobs. Start the stage again to retry them.")
    counters = summary["counters"]
    left = counters.get("left_pending", 0)
    message = (
        f"{counters['accepted']} accepted, {counters['fallback']} template fallback, {counters['failed']} failed"
        f"{note}; ${counters['cost_usd']:.4f}" + (f"; budget reached, {left} left pending" if left else "")
    )
    progress.update(message=message, force=True)
    return {**counters, "chunks": len(chunks)}


def _report(job: Job, progress: Progress, total: int, note: str, force: bool = False) -> dict[str, Any]:
    summary = aggregate_chunks(job)
    c = summary["counters"]
    progress.update(
        done=summary["done"],
        total=total,
        message=f"accepted {c['accepted']} · fallback {c['fallback']} · failed {c['failed']} · "
        f"${c['cost_usd']:.4f}{note}",
        force=force,
        **c,
    )
    return summary


# --- one chunk -----------------------------------------------------------------------------------


def run_chunk(job: Job, progress: Progress) -> dict[str, Any]:
    """One chunk, with the model and key-or-template decided when the admin started the job."""
    parent = Job.objects.get(pk=job.params["parent"])
    if parent.cancel_requested or parent.status == JobStatus.CANCELLED:
        raise JobCancelled()  # the admin cancelled the whole job: its chunks send nothing more
    overrides: dict[str, Any] = {"model": parent.params.get("model") or settings.PARAPHRASE_MODEL}
    if parent.params.get("template_only"):
        overrides["api_key"] = ""
    config = LLMConfig.from_settings(**overrides)
    # What an earlier attempt of this chunk reserved and never settled (its worker died) is given back
    # first; so is what this attempt leaves reserved when it stops on an error or a cancel.
    _release_reservation(parent, progress)
    try:
        return process_chunk(job.params["sample_ids"], parent=parent, config=config, progress=progress)
    except JobLost:
        raise  # another worker owns the chunk now, and its reservation
    except BaseException:
        _release_reservation(parent, progress)
        raise


def _release_reservation(parent: Job, progress: Progress) -> None:
    """Settle what this chunk holds (its counters), in one transaction: the reservation is given back,
    except for the requests an attempt had on the wire and never wrote (its worker died, or it failed):
    they were paid for, at an unknown price, so their worst case counts as spent."""
    held = int(progress.counters.get(RESERVED) or 0)
    unanswered = min(held, int(progress.counters.get(ON_THE_WIRE) or 0))
    if not held and not unanswered:
        return
    with transaction.atomic():
        progress.counters[RESERVED] = 0
        progress.counters[ON_THE_WIRE] = 0
        if unanswered:
            progress.counters[UNANSWERED] = int(progress.counters.get(UNANSWERED) or 0) + unanswered
        progress.write_counters()
        ParaphraseBudget.objects.filter(job=parent).update(
            reserved_micro_usd=F("reserved_micro_usd") - held, spent_micro_usd=F("spent_micro_usd") + unanswered
        )


@dataclass
class _Item:
    sample: Sample
    question: str
    answer: str
    language: str
    context: dict[str, Any]
    key: str


def context_of(meta: dict[str, Any] | None) -> dict[str, Any]:
    """Image captions (VQA v2) and OCR tokens (scene text) from a sample's meta, when it has them."""
    meta = meta or {}
    captions = meta.get("captions") or meta.get("caption")
    if isinstance(captions, str):
        captions = [captions]
    ocr = meta.get("ocr_tokens") or meta.get("ocr")
    if isinstance(ocr, str):
        ocr = ocr.split()
    return paraphrase.context_fields(captions, ocr)


def _counters_of_done(samples: list[Sample], parent: Job) -> dict[str, Any]:
    """The counters of the chunk's samples an earlier attempt already wrote (all were pending at fan-out)."""
    counters: dict[str, Any] = dict.fromkeys(COUNTERS, 0) | {"cost_usd": 0.0}
    for sample in samples:
        if sample.paraphrase_state == ParaphraseState.PENDING:
            continue
        counters[str(sample.paraphrase_state)] += 1  # accepted / fallback / failed
        info = sample.paraphrase or {}
        if info.get("job") != parent.pk:
            continue
        if info.get("cached"):
            counters["cached"] += 1
            continue
        attempts = int(info.get("attempts") or 0)
        counters["requests"] += attempts
        counters["retries"] += max(0, attempts - 1)
        counters["tokens_in"] += int(info.get("tokens_in") or 0)
        counters["tokens_out"] += int(info.get("tokens_out") or 0)
        counters["cost_usd"] += float(info.get("cost_usd") or 0)
    return counters


def _decide(item: _Item, response: str) -> tuple[str, str, paraphrase.Verdict]:
    """(state, new output, verdict) for a response text."""
    context_text = " ".join(str(v) for value in item.context.values() for v in value)
    verdict = paraphrase.check(item.question, item.answer, response, item.language, context_text)
    if verdict.ok:
        return ParaphraseState.ACCEPTED, response.strip(), verdict
    return ParaphraseState.FALLBACK, paraphrase.template_answer(item.answer, item.language), verdict


class _Writer:
    """Collects decisions and writes them, with new cache rows and the spend, in one transaction."""

    def __init__(self, parent: Job, progress: Progress) -> None:
        self.parent = parent
        self.progress = progress
        self.samples: list[Sample] = []
        self.cache_rows: list[ParaphraseCache] = []
        self.spent = 0
        self.released = 0
        self.answered = 0  # worst case of the answers in this write: no longer on the wire
        self.deltas: dict[str, int] = defaultdict(int)
        self.qc_states: dict[int, str] = {}
        self.cost_usd = 0.0
        self.last = time.monotonic()

    def add(self, item: _Item, state: str, output: str, provenance: dict[str, Any]) -> None:
        sample = item.sample
        sample.paraphrase_state = state
        sample.outputs = output
        sample.paraphrase = {**provenance, "outcome": str(state)}
        sample.updated_at = timezone.now()
        self.samples.append(sample)
        self.deltas[str(state)] += 1
        if provenance.get("cached"):
            self.deltas["cached"] += 1

    def _keep_still_pending(self) -> None:
        """Drop the samples that stopped being pending since they were read (another job or a QC
        correction wrote them): their new state is kept, and they are not counted here."""
        ids = [sample.pk for sample in self.samples]
        # Splits first, then samples, each by primary key: the order QC decisions take (pipeline.samples.locks).
        lock_splits((sample.task_id, sample.split) for sample in self.samples)
        pending = dict(
            lock_samples(Sample.objects.filter(pk__in=ids, paraphrase_state=ParaphraseState.PENDING))
            .exclude(CORRECTED_BY_QC)  # a reviewer's correction stays, though the sample is still pending
            .order_by("pk")
            .values_list("pk", "qc_state")
        )
        self.qc_states = pending
        for sample in self.samples:
            if sample.pk not in pending:
                self.deltas[str(sample.paraphrase_state)] -= 1
                if (sample.paraphrase or {}).get("cached"):
                    self.deltas["cached"] -= 1
        self.samples = [sample for sample in self.samples if sample.pk in pending]

    def due(self) -> bool:
        return len(self.samples) >= WRITE_EVERY_RESULTS or time.monotonic() - self.last >= WRITE_EVERY_SECONDS

    def flush(self) -> None:
        self.last = time.monotonic()
        if not self.samples and not self.released:
            return
        with transaction.atomic():
            if self.cache_rows:
                ParaphraseCache.objects.bulk_create(self.cache_rows, ignore_conflicts=True)
            self._keep_still_pending()
            Sample.objects.bulk_update(self.samples, ["paraphrase_state", "outputs", "paraphrase", "updated_at"])
            deltas = counts.new_deltas()
            for sample in self.samples:  # each was pending (locked above), with the QC state read there
                qc_state = self.qc_states[sample.pk]
                counts.move(deltas, (sample.task_id, sample.split), (ParaphraseState.PENDING, qc_state),
                            (sample.paraphrase_state, qc_state))  # fmt: skip
            counts.apply(deltas)
            for task_id, split in {(sample.task_id, sample.split) for sample in self.samples}:
                TaskSplit.objects.filter(task_id=task_id, split=split).reopen_for_review(
                    f"Reopened for review: paraphrase job #{self.parent.pk} rewrote outputs after QC saw them."
                )
            if self.spent or self.released:
                ParaphraseBudget.objects.filter(job=self.parent).update(
                    spent_micro_usd=F("spent_micro_usd") + self.spent,
                    reserved_micro_usd=F("reserved_micro_usd") - self.released,
                )
            if self.released:
                self.progress.counters[RESERVED] = int(self.progress.counters.get(RESERVED) or 0) - self.released
                wire = int(self.progress.counters.get(ON_THE_WIRE) or 0) - self.answered
                self.progress.counters[ON_THE_WIRE] = max(0, wire)
                self.progress.write_counters()
        self.progress.add(len(self.samples), cost_usd=self.cost_usd, **self.deltas)
        self.samples, self.cache_rows, self.spent, self.released, self.answered = [], [], 0, 0, 0
        self.deltas, self.cost_usd = defaultdict(int), 0.0


def _reserve(parent: Job, wanted: list[int], progress: Progress) -> int:
    """Reserve budget for as many requests (in order) as it allows; returns how many. The chunk
    records what it holds in the same transaction, so a later attempt can give it back."""
    with transaction.atomic():
        budget, _ = ParaphraseBudget.objects.select_for_update().get_or_create(job=parent)
        if budget.limit_micro_usd is None:
            taken = len(wanted)
            amount = sum(wanted)
        else:
            room = budget.limit_micro_usd - budget.spent_micro_usd - budget.reserved_micro_usd
            taken, amount = 0, 0
            for cost in wanted:
                if amount + cost > room:
                    break
                amount += cost
                taken += 1
        ParaphraseBudget.objects.filter(pk=budget.pk).update(reserved_micro_usd=F("reserved_micro_usd") + amount)
        if amount:
            progress.counters[RESERVED] = int(progress.counters.get(RESERVED) or 0) + amount
            progress.write_counters()
    return taken


def process_chunk(sample_ids: list[int], *, parent: Job, config: LLMConfig, progress: Progress) -> dict[str, Any]:
    """Paraphrase the chunk's samples that are still pending; resumable and idempotent."""
    samples = list(Sample.objects.filter(id__in=sample_ids).select_related("task").order_by("id"))
    already = _counters_of_done(samples, parent)
    progress.update(done=len(samples) - sum(s.paraphrase_state == ParaphraseState.PENDING for s in samples),
                    total=len(sample_ids), force=True, **already)  # fmt: skip
    writer = _Writer(parent, progress)
    base = {"job": parent.pk, "model": config.model, "prompt_version": paraphrase.PROMPT_VERSION}

    by_key: dict[str, list[_Item]] = defaultdict(list)
    for sample in samples:
        if sample.paraphrase_state != ParaphraseState.PENDING or sample.qc_state == SampleQCState.CORRECTED:
            continue
        question, answer = sample.inputs, sample.original_output or sample.outputs
        item = _Item(sample, question, answer, sample.task.language, context_of(sample.meta), "")
        if not answer.strip():
            writer.add(item, ParaphraseState.FAILED, sample.outputs, _provenance(base, paraphrase.Reason.NO_ANSWER))
            continue
        if not config.api_key:
            output = paraphrase.template_answer(answer, item.language)
            writer.add(item, ParaphraseState.FALLBACK, output, _provenance(base, paraphrase.Reason.NO_API_KEY))
            continue
        item.key = paraphrase.cache_key(config.model, question, answer, item.context)
        by_key[item.key].append(item)
    writer.flush()

    # Answers already paid for (by any job) are reused.
    for row in ParaphraseCache.objects.filter(key__in=list(by_key)):
        for item in by_key.pop(row.key):
            state, output, verdict = _decide(item, row.response)
            info = {"cached": True, "tokens_in": row.tokens_in, "tokens_out": row.tokens_out, "attempts": 0,
                    "raw": row.response, "response": row.response}  # fmt: skip
            writer.add(item, state, output, _provenance(base, verdict.reason, **info))
    writer.flush()

    # The rest costs money: reserve the worst case (an upper bound of the prompt's tokens and the whole
    # output allowance), send, write as results arrive.
    requests: list[ChatRequest] = []
    worst: dict[str, int] = {}
    for key, items in by_key.items():
        first = items[0]
        messages = paraphrase.build_messages(first.question, first.answer, first.context)
        worst[key] = price_micro_usd(paraphrase.max_prompt_tokens(messages), config.max_tokens)
        estimated = paraphrase.estimate_prompt_tokens(len(first.question), len(first.answer)) + config.max_tokens
        requests.append(ChatRequest(key=key, messages=messages, estimated_tokens=estimated))
    affordable = _reserve(parent, [worst[request.key] for request in requests], progress)
    over_budget = [request.key for request in requests[affordable:]]
    requests = requests[:affordable]
    stop = threading.Event()

    def on_send(key: str) -> None:  # before the request goes out: a kill after this still counts it
        progress.counters[ON_THE_WIRE] = int(progress.counters.get(ON_THE_WIRE) or 0) + worst[key]
        progress.write_counters()

    for result in stream_results(config, requests, stop=stop, on_send=on_send) if requests else ():
        if result.stopped and not result.attempts:  # never sent: nothing paid, its samples stay pending
            writer.released += worst[result.key]
        else:
            writer.answered += worst[result.key]
            _apply_result(result, by_key[result.key], base, writer, worst[result.key])
        if writer.due():
            writer.flush()
            if not stop.is_set() and Job.objects.filter(pk=parent.pk, cancel_requested=True).exists():
                # Nothing more is sent; the answers already on the wire are paid for, so they are still
                # read and written (and reach the ledger) before the chunk stops.
                stop.set()
    writer.flush()
    if stop.is_set():
        raise JobCancelled()  # what is written stays; the rest stays pending
    left = sum(len(by_key[k]) for k in over_budget)
    if left:
        progress.update(left_pending=left, message=f"Budget reached: {left} sample(s) left pending.", force=True)
    progress.flush()
    return {k: progress.counters.get(k, 0) for k in (*COUNTERS, "cost_usd")} | {"left_pending": left}


def _apply_result(result: ChatResult, items: list[_Item], base: dict[str, Any], writer: _Writer, reserved: int) -> None:
    writer.released += reserved
    writer.deltas["requests"] += result.attempts
    writer.deltas["retries"] += max(0, result.attempts - 1)
    common = {"attempts": result.attempts, "latency_s": round(result.latency, 3), "raw": storable(result.raw[:8000]),
              "waits_s": [round(w, 3) for w in result.waits]}  # fmt: skip
    if not result.ok:
        for item in items:
            output = paraphrase.template_answer(item.answer, item.language)
            info = _provenance(base, paraphrase.Reason.REQUEST_FAILED, error=storable(result.error), **common)
            writer.add(item, ParaphraseState.FALLBACK, output, info)
        return
    cost = price_micro_usd(result.tokens_in, result.tokens_out)
    writer.spent += cost
    writer.deltas["tokens_in"] += result.tokens_in
    writer.deltas["tokens_out"] += result.tokens_out
    writer.cost_usd += cost / 1e6
    if storable(result.text) != result.text:
        # A NUL (or an unpaired surrogate) cannot be stored: a per-sample failure, not a failed chunk. The
        # answer was paid for (counted above, in the ledger); it is not cached, and the template is used.
        for index, item in enumerate(items):
            info = _provenance(
                base,
                paraphrase.Reason.MALFORMED,
                cached=index > 0,
                response=storable(result.text),
                tokens_in=result.tokens_in,
                tokens_out=result.tokens_out,
                cost_usd=cost / 1e6 if index == 0 else 0.0,
                finish_reason=result.finish_reason,
                **common,
            )
            writer.add(item, ParaphraseState.FALLBACK, paraphrase.template_answer(item.answer, item.language), info)
        return
    writer.cache_rows.append(
        ParaphraseCache(
            key=result.key,
            model=base["model"],
            prompt_version=base["prompt_version"],
            response=result.text,
            tokens_in=result.tokens_in,
            tokens_out=result.tokens_out,
        )
    )
    for index, item in enumerate(items):
        state, output, verdict = _decide(item, result.text)
        paid = index == 0  # identical requests in one chunk were sent once; the others reuse it
        info = _provenance(
            base,
            verdict.reason,
            cached=not paid,
            response=result.text,
            tokens_in=result.tokens_in,
            tokens_out=result.tokens_out,
            cost_usd=cost / 1e6 if paid else 0.0,
            finish_reason=result.finish_reason,
            **common,
        )
        writer.add(item, state, output, info)


def storable(text: str) -> str:
    """`text` as PostgreSQL can store it (text and jsonb): NUL and unpaired surrogates written as escapes."""
    if "\x00" in text:
        text = text.replace("\x00", "\\u0000")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _provenance(base: dict[str, Any], reason: str, **fields: Any) -> dict[str, Any]:
    return {
        **base,
        "reason": reason,
        "reason_text": paraphrase.REASON_TEXT.get(reason, "") if reason else "",
        "at": timezone.now().isoformat(),
        **fields,
    }
