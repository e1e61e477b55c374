"""Stage I rules for a task's instruction pool, shared by the web pages, the API and the commands.

Every change runs in a transaction that locks the task row first, so two requests cannot both pass
a check (e.g. "not locked") and then both write, and every change leaves an InstructionEvent with
who, when, before and after.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from . import roles
from .access import can_write
from .models import Instruction, InstructionEvent, PoolStatus, Task, TaskSplit
from .signals import pool_gained_instructions

MIN_INSTRUCTIONS = 10
MAX_LENGTH = 2000
Action = InstructionEvent.Action


class PoolError(Exception):
    """A change the rules refuse; the message says why, in words for the person who tried."""

    status_code = 400


class NotAllowed(PoolError):
    status_code = 403


class PoolLocked(PoolError):
    status_code = 409


def _locked_task(task: Task) -> Task:
    return Task.objects.select_for_update().get(pk=task.pk)


def _require_writer(task: Task, user: Any) -> None:
    if not can_write(user, task):
        raise NotAllowed("Only the annotator who writes this task's instructions can change them.")
    if task.pool_status == PoolStatus.SUBMITTED:
        raise PoolLocked("This pool is submitted and locked; an admin must return or unlock it before it can change.")


def _require_admin(user: Any) -> None:
    if not roles.is_admin(user):
        raise NotAllowed("Only an admin can do this.")


def _clean_text(text: Any) -> str:
    if not isinstance(text, str):
        raise PoolError("An instruction must be text.")
    text = text.strip()
    if not text:
        raise PoolError("An instruction cannot be empty.")
    if len(text) > MAX_LENGTH:
        raise PoolError(f"An instruction can be at most {MAX_LENGTH} characters long; this one has {len(text)}.")
    return text


def ordered(task: Task) -> list[Instruction]:
    return list(Instruction.objects.filter(task=task).order_by("position", "id"))


def _check_unique(task: Task, text: str, exclude_pk: int | None = None) -> None:
    normalized = Instruction.normalize(text)
    for number, instruction in enumerate(ordered(task), start=1):
        if instruction.pk != exclude_pk and instruction.normalized == normalized:
            raise PoolError(
                f"This instruction is already in the pool as #{number} “{instruction.text}” "
                "(instructions are compared ignoring case and spaces). Write a different one."
            )


def _snapshot(instruction: Instruction) -> dict[str, Any]:
    return {"id": instruction.pk, "text": instruction.text, "position": instruction.position}


def _event(task: Task, user: Any, action: str, **fields: Any) -> InstructionEvent:
    actor = user if getattr(user, "is_authenticated", False) else None
    return InstructionEvent.objects.create(task=task, actor=actor, action=action, **fields)


def _get(task: Task, instruction_id: int) -> Instruction:
    try:
        return Instruction.objects.get(task=task, pk=instruction_id)
    except (Instruction.DoesNotExist, ValueError, TypeError):
        raise PoolError("That instruction is not in this task's pool (it may have been deleted).") from None


def _renumber(instructions: list[Instruction]) -> None:
    changed = []
    for position, instruction in enumerate(instructions):
        if instruction.position != position:
            instruction.position = position
            changed.append(instruction)
    Instruction.objects.bulk_update(changed, ["position"])


def _reopen_splits_using(task: Task, instruction_ids: list[int], reason: str) -> None:
    """Samples of these instructions export other text now: their approved or in-review splits go back to review."""
    if not instruction_ids:
        return
    # The splits of the samples that drew these instructions (through Sample.instruction's reverse relation).
    splits = Instruction.objects.filter(pk__in=instruction_ids, samples__isnull=False).values("samples__split")
    TaskSplit.objects.filter(task=task, split__in=splits).reopen_for_review(reason)


def add_instruction(task: Task, user: Any, text: Any) -> Instruction:
    text = _clean_text(text)
    with transaction.atomic():
        task = _locked_task(task)
        _require_writer(task, user)
        _check_unique(task, text)
        last = Instruction.objects.filter(task=task).aggregate(last=Max("position"))["last"]
        try:
            with transaction.atomic():
                instruction = Instruction.objects.create(
                    task=task, text=text, author=user, position=0 if last is None else last + 1
                )
        except IntegrityError:
            raise PoolError("This instruction is already in the pool (ignoring case and spaces).") from None
        _event(task, user, Action.CREATE, instruction=instruction, after=_snapshot(instruction))
        _announce_gain(task)
    return instruction


def _announce_gain(task: Task) -> None:
    """After the commit: samples imported before the pool had instructions get one (pipeline listens)."""
    task_id = task.pk
    transaction.on_commit(lambda: pool_gained_instructions.send(sender=Task, task_id=task_id))


def edit_instruction(task: Task, user: Any, instruction_id: int, text: Any) -> Instruction:
    text = _clean_text(text)
    with transaction.atomic():
        task = _locked_task(task)
        _require_writer(task, user)
        instruction = _get(task, instruction_id)
        if instruction.text == text:
            return instruction
        _check_unique(task, text, exclude_pk=instruction.pk)
        before = _snapshot(instruction)
        instruction.text = text
        instruction.save()
        _event(task, user, Action.UPDATE, instruction=instruction, before=before, after=_snapshot(instruction))
        _reopen_splits_using(
            task, [instruction.pk], f"Reopened for review: instruction #{instruction.position + 1} was edited."
        )
    return instruction


def delete_instruction(task: Task, user: Any, instruction_id: int) -> None:
    with transaction.atomic():
        task = _locked_task(task)
        _require_writer(task, user)
        instruction = _get(task, instruction_id)
        before = _snapshot(instruction)
        _event(task, user, Action.DELETE, instruction=instruction, before=before)
        _reopen_splits_using(
            task, [instruction.pk], f"Reopened for review: instruction #{instruction.position + 1} was deleted."
        )
        instruction.delete()
        _renumber(ordered(task))


def reorder(task: Task, user: Any, ordered_ids: list[int]) -> None:
    """Put the pool in the given order; the list must name every instruction exactly once."""
    with transaction.atomic():
        task = _locked_task(task)
        _require_writer(task, user)
        current = ordered(task)
        by_id = {i.pk: i for i in current}
        try:
            wanted = [int(pk) for pk in ordered_ids]
        except (TypeError, ValueError):
            raise PoolError("The order must be a list of instruction ids.") from None
        if sorted(wanted) != sorted(by_id):
            raise PoolError("The new order must list every instruction of the pool exactly once.")
        before = [i.pk for i in current]
        if wanted == before:
            return
        _renumber([by_id[pk] for pk in wanted])
        _event(task, user, Action.REORDER, before={"order": before}, after={"order": wanted})


def move(task: Task, user: Any, instruction_id: int, offset: int) -> None:
    """Move one instruction up (offset -1) or down (+1) in the list."""
    with transaction.atomic():
        task = _locked_task(task)
        _require_writer(task, user)
        ids = [i.pk for i in ordered(task)]
        index = ids.index(_get(task, instruction_id).pk)
        target = max(0, min(len(ids) - 1, index + offset))
        if target != index:
            ids.insert(target, ids.pop(index))
            reorder(task, user, ids)


def submit(task: Task, user: Any) -> None:
    with transaction.atomic():
        task = _locked_task(task)
        _require_writer(task, user)
        count = Instruction.objects.filter(task=task).count()
        if count < MIN_INSTRUCTIONS:
            raise PoolError(
                f"A pool needs at least {MIN_INSTRUCTIONS} distinct instructions before it can be submitted; "
                f"this one has {count}."
            )
        before = {"status": task.pool_status, "return_comment": task.return_comment}
        Task.objects.filter(pk=task.pk).update(pool_status=PoolStatus.SUBMITTED, return_comment="")
        _event(task, user, Action.SUBMIT, before=before, after={"status": PoolStatus.SUBMITTED, "count": count})


def return_pool(task: Task, user: Any, comment: Any) -> None:
    """An admin sends a submitted pool back to its writer with a comment (the pool opens again)."""
    comment = comment.strip() if isinstance(comment, str) else ""
    with transaction.atomic():
        task = _locked_task(task)
        _require_admin(user)
        if task.pool_status != PoolStatus.SUBMITTED:
            raise PoolError("Only a submitted pool can be returned.")
        if not comment:
            raise PoolError("Say what should change: returning a pool needs a comment for its writer.")
        Task.objects.filter(pk=task.pk).update(pool_status=PoolStatus.RETURNED, return_comment=comment)
        _event(
            task,
            user,
            Action.RETURN,
            before={"status": task.pool_status},
            after={"status": PoolStatus.RETURNED},
            comment=comment,
        )


def unlock(task: Task, user: Any) -> None:
    """An admin opens a submitted pool again without comment."""
    with transaction.atomic():
        task = _locked_task(task)
        _require_admin(user)
        if task.pool_status != PoolStatus.SUBMITTED:
            raise PoolError("This pool is not locked.")
        Task.objects.filter(pk=task.pk).update(pool_status=PoolStatus.OPEN, return_comment="")
        _event(task, user, Action.UNLOCK, before={"status": task.pool_status}, after={"status": PoolStatus.OPEN})


def parse_instructions_json(raw: bytes | str) -> list[str]:
    """Read M3IT's instructions.json (a JSON list of strings), refusing anything else with a clear message."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise PoolError("The file is not UTF-8 text; instructions.json must be a UTF-8 JSON file.") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PoolError(f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None
    return validate_texts(data)


JSON_TYPE_NAMES = {dict: "an object", str: "a string", int: "a number", float: "a number", bool: "true/false"}


def _json_type(value: Any) -> str:
    return "null" if value is None else JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def validate_texts(data: Any) -> list[str]:
    """A non-empty list of distinct, non-empty instruction strings, or a PoolError saying which item is wrong."""
    if not isinstance(data, list):
        raise PoolError(
            'instructions.json must be a JSON list of strings, like ["Describe the image.", …]; '
            f"this file holds {_json_type(data)}."
        )
    texts: list[str] = []
    seen: dict[str, int] = {}
    for number, item in enumerate(data, start=1):
        if not isinstance(item, str):
            raise PoolError(
                f"Item {number} of the list is {_json_type(item)}, not a string; every instruction must be a string."
            )
        try:
            text = _clean_text(item)
        except PoolError as exc:
            raise PoolError(f"Item {number}: {exc}") from None
        normalized = Instruction.normalize(text)
        if normalized in seen:
            raise PoolError(
                f"Items {seen[normalized]} and {number} are the same instruction once case and spaces are ignored."
            )
        seen[normalized] = number
        texts.append(text)
    if not texts:
        raise PoolError("The list is empty: there is no instruction to import.")
    return texts


def import_pool(task: Task, user: Any, texts: list[str]) -> dict[str, int]:
    """Make the pool exactly `texts`, in that order (admins). Instructions whose text is kept (ignoring
    case and spaces) keep their id, so samples that drew them keep them. All or nothing."""
    texts = validate_texts(texts)
    with transaction.atomic():
        task = _locked_task(task)
        _require_admin(user)
        if task.pool_status == PoolStatus.SUBMITTED:
            raise PoolLocked("This pool is submitted and locked; unlock it before importing over it.")
        current = ordered(task)
        before = [i.text for i in current]
        by_normalized = {i.normalized: i for i in current}
        wanted = {Instruction.normalize(t) for t in texts}
        removed = [i for i in current if i.normalized not in wanted]
        rewritten = [i for i in current if i.normalized in wanted and i.text not in texts]
        _reopen_splits_using(
            task,
            [i.pk for i in removed + rewritten],
            "Reopened for review: the instruction pool was replaced by an import.",
        )
        Instruction.objects.filter(pk__in=[i.pk for i in removed]).delete()
        kept, created = [], []
        for position, text in enumerate(texts):
            existing = by_normalized.get(Instruction.normalize(text))
            if existing is None:
                created.append(Instruction(task=task, text=text, author=user, position=position))
                continue
            existing.text, existing.position = text, position
            kept.append(existing)
        Instruction.objects.bulk_update(kept, ["text", "position"])
        for instruction in created:
            instruction.normalized = Instruction.normalize(instruction.text)
        Instruction.objects.bulk_create(created)
        if created:
            _announce_gain(task)
        _event(task, user, Action.IMPORT, before={"instructions": before}, after={"instructions": list(texts)})
    return {"kept": len(kept), "created": len(created), "removed": len(removed)}


def export_texts(task: Task) -> list[str]:
    return [i.text for i in ordered(task)]


def export_json(task: Task) -> str:
    """The pool as M3IT's instructions.json: a JSON list of strings, in pool order."""
    return json.dumps(export_texts(task), ensure_ascii=False, indent=2) + "\n"
