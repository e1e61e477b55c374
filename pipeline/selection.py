"""Reproducible choice of one instruction per sample from its task's pool."""

from __future__ import annotations

import hashlib
import random

from annotator.models import Instruction

from .models import Sample


def instruction_seed(task_slug: str, split: str, source_id: str, salt: int = 0) -> int:
    """A stable seed from the sample's identity, so a draw can be repeated anywhere."""
    digest = hashlib.sha256(f"{task_slug}|{split}|{source_id}|{salt}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


def pick(pool: list[Instruction], seed: int) -> Instruction | None:
    if not pool:
        return None
    ordered = sorted(pool, key=lambda i: i.pk)
    return random.Random(seed).choice(ordered)


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
