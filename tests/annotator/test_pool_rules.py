"""The Stage I rules in annotator.pool, called as plain functions."""

from __future__ import annotations

import pytest

from annotator import pool
from annotator.models import Instruction, InstructionEvent, PoolStatus
from tests.factories import AnnotatorFactory, TaskFactory

pytestmark = pytest.mark.django_db

TEN = [
    "Answer the question about the image.",
    "Look at the picture and reply to the question.",
    "What does the image show? Answer the question below.",
    "Using only what you can see, answer the question.",
    "Study the image carefully, then respond to the question.",
    "Give a short answer to the question about this photo.",
    "Based on the visual content, what is the answer?",
    "Read the question and answer it from the image.",
    "Examine the image and answer in one sentence.",
    "You are shown an image. Answer the following question.",
]


@pytest.fixture
def task(annotator, reviewer):
    return TaskFactory(writer=annotator, reviewer=reviewer)


def fill(task, user, texts):
    for text in texts:
        pool.add_instruction(task, user, text)


def test_nine_instructions_cannot_be_submitted_ten_can(task, annotator):
    fill(task, annotator, TEN[:9])
    with pytest.raises(pool.PoolError, match=r"at least 10 distinct instructions.*has 9"):
        pool.submit(task, annotator)
    task.refresh_from_db()
    assert task.pool_status == PoolStatus.OPEN

    pool.add_instruction(task, annotator, TEN[9])
    pool.submit(task, annotator)
    task.refresh_from_db()
    assert task.pool_status == PoolStatus.SUBMITTED


def test_duplicate_after_whitespace_and_case_normalisation_is_refused(task, annotator):
    fill(task, annotator, TEN[:3])
    with pytest.raises(pool.PoolError) as refused:
        pool.add_instruction(task, annotator, "  look at THE picture   and reply\tto the question. ")
    message = str(refused.value)
    assert "already in the pool as #2" in message
    assert "Look at the picture and reply to the question." in message
    assert "ignoring case and spaces" in message
    assert task.instructions.count() == 3


def test_editing_into_a_duplicate_is_refused_and_keeps_the_old_text(task, annotator):
    fill(task, annotator, TEN[:2])
    second = task.instructions.get(position=1)
    with pytest.raises(pool.PoolError, match="#1"):
        pool.edit_instruction(task, annotator, second.pk, TEN[0].upper())
    second.refresh_from_db()
    assert second.text == TEN[1]


def test_empty_instruction_is_refused(task, annotator):
    with pytest.raises(pool.PoolError, match="cannot be empty"):
        pool.add_instruction(task, annotator, "   \n ")


def test_only_the_writer_changes_the_pool(task, annotator, reviewer, admin_user):
    fill(task, annotator, TEN[:1])
    first = task.instructions.get()
    for other in (reviewer, admin_user, AnnotatorFactory()):
        with pytest.raises(pool.NotAllowed):
            pool.add_instruction(task, other, "Something new about the image.")
        with pytest.raises(pool.NotAllowed):
            pool.edit_instruction(task, other, first.pk, "Changed.")
        with pytest.raises(pool.NotAllowed):
            pool.delete_instruction(task, other, first.pk)
        with pytest.raises(pool.NotAllowed):
            pool.submit(task, other)
    assert list(task.instructions.values_list("text", flat=True)) == [TEN[0]]


def test_a_submitted_pool_is_locked_until_returned_or_unlocked(task, annotator, admin_user):
    fill(task, annotator, TEN)
    pool.submit(task, annotator)
    first = task.instructions.order_by("position").first()
    with pytest.raises(pool.PoolLocked, match="locked"):
        pool.add_instruction(task, annotator, "One more instruction.")
    with pytest.raises(pool.PoolLocked):
        pool.edit_instruction(task, annotator, first.pk, "Changed.")
    with pytest.raises(pool.PoolLocked):
        pool.delete_instruction(task, annotator, first.pk)
    with pytest.raises(pool.PoolLocked):
        pool.reorder(task, annotator, list(reversed([i.pk for i in pool.ordered(task)])))

    with pytest.raises(pool.NotAllowed):
        pool.return_pool(task, annotator, "I want it back")
    with pytest.raises(pool.PoolError, match="needs a comment"):
        pool.return_pool(task, admin_user, "  ")
    pool.return_pool(task, admin_user, "Number 3 and 4 say the same thing.")
    task.refresh_from_db()
    assert task.pool_status == PoolStatus.RETURNED
    assert task.return_comment == "Number 3 and 4 say the same thing."
    pool.edit_instruction(task, annotator, first.pk, "Answer the question about this image in a word.")
    pool.submit(task, annotator)
    task.refresh_from_db()
    assert task.pool_status == PoolStatus.SUBMITTED and task.return_comment == ""

    pool.unlock(task, admin_user)
    task.refresh_from_db()
    assert task.pool_status == PoolStatus.OPEN
    pool.delete_instruction(task, annotator, first.pk)


def test_history_records_who_and_before_after(task, annotator, admin_user):
    fill(task, annotator, TEN[:2])
    first, second = pool.ordered(task)
    pool.edit_instruction(task, annotator, first.pk, "Answer the question about the photo.")
    pool.reorder(task, annotator, [second.pk, first.pk])
    pool.delete_instruction(task, annotator, second.pk)

    events = list(InstructionEvent.objects.filter(task=task).order_by("id"))
    assert [e.action for e in events] == ["create", "create", "update", "reorder", "delete"]
    assert all(e.actor == annotator for e in events)
    update = events[2]
    assert update.before["text"] == TEN[0]
    assert update.after["text"] == "Answer the question about the photo."
    assert events[3].before == {"order": [first.pk, second.pk]}
    assert events[3].after == {"order": [second.pk, first.pk]}
    assert events[4].before["text"] == TEN[1] and events[4].after is None
    # the remaining instruction was renumbered to the top
    assert list(task.instructions.values_list("position", flat=True)) == [0]


def test_reorder_must_name_every_instruction_once(task, annotator):
    fill(task, annotator, TEN[:3])
    ids = [i.pk for i in pool.ordered(task)]
    with pytest.raises(pool.PoolError, match="exactly once"):
        pool.reorder(task, annotator, ids[:2])
    with pytest.raises(pool.PoolError, match="exactly once"):
        pool.reorder(task, annotator, [ids[0], ids[0], ids[1]])
    pool.move(task, annotator, ids[2], -1)
    assert [i.pk for i in pool.ordered(task)] == [ids[0], ids[2], ids[1]]


def test_parse_instructions_json_refuses_bad_files_clearly():
    with pytest.raises(pool.PoolError, match=r"not valid JSON \(line 1, column"):
        pool.parse_instructions_json(b'["a", ')
    with pytest.raises(pool.PoolError, match=r"JSON list of strings.*holds an object"):
        pool.parse_instructions_json(b'{"instructions": ["a"]}')
    with pytest.raises(pool.PoolError, match="Item 2 of the list is a number"):
        pool.parse_instructions_json(b'["Describe it.", 3]')
    with pytest.raises(pool.PoolError, match="Items 1 and 3 are the same"):
        pool.parse_instructions_json(b'["Describe it.", "Other.", "describe  IT."]')
    with pytest.raises(pool.PoolError, match="not UTF-8"):
        pool.parse_instructions_json(b'["\xff\xfe"]')
    with pytest.raises(pool.PoolError, match="empty"):
        pool.parse_instructions_json(b"[]")
    with_bom = '\ufeff["描述图片。", " Describe it. "]'.encode()
    assert pool.parse_instructions_json(with_bom) == ["描述图片。", "Describe it."]


def test_import_keeps_matching_instructions_and_is_all_or_nothing(task, annotator, admin_user):
    fill(task, annotator, TEN[:3])
    kept = task.instructions.get(position=1)
    outcome = pool.import_pool(task, admin_user, ["New first one.", TEN[1].upper(), "Another new one."])
    assert outcome == {"kept": 1, "created": 2, "removed": 2}
    assert pool.export_texts(task) == ["New first one.", TEN[1].upper(), "Another new one."]
    kept.refresh_from_db()
    assert kept.position == 1  # same row: samples that drew it keep it
    assert Instruction.objects.filter(task=task).count() == 3

    with pytest.raises(pool.PoolError):
        pool.import_pool(task, admin_user, ["Fine.", 7])
    assert pool.export_texts(task) == ["New first one.", TEN[1].upper(), "Another new one."]
    event = InstructionEvent.objects.filter(task=task, action="import").get()
    assert event.before == {"instructions": TEN[:3]}
    assert event.actor == admin_user
