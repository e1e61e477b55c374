"""Reproducible choice of one instruction per sample from its task's pool."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from annotator.models import Instruction, Task, TaskSplit
from pipeline.models import Sample


def instruction_seed(task_slug: str, split: str, source_id: str, salt: int = 0) -> int:
    """A stable seed from the sample's identity, so a draw can be repeated anywhere."""
    digest = hashlib.sha256(f"{task_slug}|{split}|{source_id}|{salt}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


def instruction_weight(seed: int, instruction_id: int) -> int:
    digest = hashlib.blake2b(f"{seed}|{instruction_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def pick(pool: list[Instruction], seed: int) -> Instruction | None:
    """The pool's instruction with the highest seeded weight (rendezvous hashing).

    Like a seeded random.choice it is reproducible and uniform, but it is stable when the pool changes:
    deleting an instruction moves only the samples that had drawn it, and adding one moves only about
    1/(n+1) of the samples (to the new one), instead of reshuffling every sample of the task.
    """
    if not pool:
        return None
    return max(pool, key=lambda instruction: instruction_weight(seed, instruction.pk))


def draw_instruction(sample: Sample, pool: list[Instruction] | None = None, save: bool = True) -> Instruction | None:
    """Give a sample one instruction from its task's pool, recording the seed."""
    if pool is None:
        pool = list(Instruction.objects.filter(task_id=sample.task_id))
    seed = instruction_seed(sample.task.slug, sample.split, sample.source_id)
    sample.instruction_seed = seed
    sample.instruction = pick(pool, seed)
    if save:
        sample.save(update_fields=["instruction", "instruction_seed"])
    return sample.instruction


@dataclass
class RedrawOutcome:
    samples: int = 0
    changed: int = 0
    per_task: dict[str, int] = field(default_factory=dict)


def count_samples(task_slugs: Iterable[str] | None = None) -> int:
    samples = Sample.objects.all()
    return samples.filter(task__slug__in=list(task_slugs)).count() if task_slugs else samples.count()


def redraw_instructions(
    task_slugs: Iterable[str] | None = None,
    batch_size: int = 2000,
    dry_run: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> RedrawOutcome:
    """Draw every sample's instruction again from its task's current pool, with the same seeds.

    Run after a pool changed (e.g. returned, edited and resubmitted): samples whose recorded instruction
    is no longer what the seeded draw gives are updated. Reads samples in id-keyed batches and writes
    each batch with one bulk UPDATE; `on_batch(n)` is called with the number of samples in each batch.
    Running it twice changes nothing the second time.
    """
    tasks = Task.objects.order_by("slug")
    if task_slugs:
        tasks = tasks.filter(slug__in=list(task_slugs))
    outcome = RedrawOutcome()
    for task in tasks.only("id", "slug"):
        pool = list(Instruction.objects.filter(task_id=task.pk).only("id"))
        changed_here = 0
        changed_splits: set[str] = set()
        last_id = 0
        while True:
            batch = list(
                Sample.objects.filter(task_id=task.pk, id__gt=last_id)
                .order_by("id")
                .only("id", "split", "source_id", "instruction_id", "instruction_seed")[:batch_size]
            )
            if not batch:
                break
            last_id = batch[-1].pk
            dirty = []
            for sample in batch:
                seed = instruction_seed(task.slug, sample.split, sample.source_id)
                chosen = pick(pool, seed)
                chosen_id = chosen.pk if chosen else None
                if chosen_id != sample.instruction_id:
                    changed_here += 1
                    changed_splits.add(sample.split)
                if chosen_id != sample.instruction_id or seed != sample.instruction_seed:
                    sample.instruction_id, sample.instruction_seed = chosen_id, seed
                    dirty.append(sample)
            if dirty and not dry_run:
                Sample.objects.bulk_update(dirty, ["instruction", "instruction_seed"])
            outcome.samples += len(batch)
            if on_batch:
                on_batch(len(batch))
        if changed_splits and not dry_run:
            TaskSplit.objects.filter(task_id=task.pk, split__in=changed_splits).reopen_for_review(
                f"Reopened for review: the instruction redraw gave {changed_here} sample(s) another instruction."
            )
        if changed_here:
            outcome.per_task[task.slug] = changed_here
        outcome.changed += changed_here
    return outcome


def draw_missing_instructions(task_id: int, batch_size: int = 2000) -> int:
    """Draw an instruction for the task's samples that have none (imported before its pool had any),
    with their recorded seeds, in id-keyed batches of one bulk UPDATE each. The splits that changed go
    back to review. Returns how many samples got an instruction."""
    pool = list(Instruction.objects.filter(task_id=task_id).only("id"))
    if not pool:
        return 0
    task = Task.objects.only("slug").get(pk=task_id)
    done, last_id, splits = 0, 0, set()
    while True:
        batch = list(
            Sample.objects.filter(task_id=task_id, instruction__isnull=True, id__gt=last_id)
            .only("id", "split", "source_id")
            .order_by("id")[:batch_size]
        )
        if not batch:
            break
        for sample in batch:
            sample.instruction_seed = instruction_seed(task.slug, sample.split, sample.source_id)
            sample.instruction = pick(pool, sample.instruction_seed)
            splits.add(sample.split)
        Sample.objects.bulk_update(batch, ["instruction", "instruction_seed"])
        done += len(batch)
        last_id = batch[-1].pk
    if splits:
        TaskSplit.objects.filter(task_id=task_id, split__in=splits).reopen_for_review(
            "Instructions were drawn for samples that had none."
        )
    return done
