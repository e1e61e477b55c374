"""The task page's pool editor, import/export and the statistics page, through HTTP."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotator import pool
from annotator.models import InstructionEvent, PoolStatus
from tests.factories import AnnotatorFactory, InstructionFactory, SampleFactory, TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(annotator, reviewer):
    return TaskFactory(writer=annotator, reviewer=reviewer, language="en")


def add_url(task):
    return reverse("instruction-add", args=[task.slug])


def texts(task):
    return list(task.instructions.order_by("position").values_list("text", flat=True))


def test_writer_adds_an_instruction_and_sees_it_with_its_token_count(client, task, annotator):
    client.force_login(annotator)
    response = client.post(add_url(task), {"text": "Describe the image in one short sentence."}, follow=True)
    assert texts(task) == ["Describe the image in one short sentence."]
    page = response.content.decode()
    assert "Added #1" in page
    assert "7 words" in page  # Describe the image in one short sentence.
    assert "Add 9 more instructions to submit." in page


def test_duplicate_is_refused_with_a_clear_message_and_the_text_is_kept(client, task, annotator):
    client.force_login(annotator)
    client.post(add_url(task), {"text": "Describe the image."})
    response = client.post(add_url(task), {"text": "  describe THE   image. "}, follow=True)
    page = response.content.decode()
    assert texts(task) == ["Describe the image."]
    assert "already in the pool as #1" in page
    # the refused text comes back in the form, so nothing typed is lost
    assert "  describe THE   image. </textarea>" in page


def test_near_duplicate_is_added_with_a_warning_naming_the_similar_instruction(client, task, annotator):
    client.force_login(annotator)
    client.post(add_url(task), {"text": "Describe the image in detail."})
    response = client.post(add_url(task), {"text": "Describe the image in details."}, follow=True)
    page = response.content.decode()
    assert len(texts(task)) == 2
    assert "97% similar to #1 “Describe the image in detail.”" in page


def test_annotator_cannot_touch_another_annotators_pool(client, task):
    InstructionFactory(task=task, text="Describe the image.")
    intruder = AnnotatorFactory()
    client.force_login(intruder)
    instruction = task.instructions.get()
    for name, args in [
        ("instruction-add", [task.slug]),
        ("instruction-edit", [task.slug, instruction.pk]),
        ("instruction-delete", [task.slug, instruction.pk]),
        ("instruction-move", [task.slug, instruction.pk]),
        ("pool-submit", [task.slug]),
    ]:
        assert client.post(reverse(name, args=args), {"text": "Mine now."}).status_code == 404, name
    assert client.get(reverse("pool-live-stats", args=[task.slug]), {"draft": "x"}).status_code == 404
    # the task page itself is public, but not the pool
    page = client.get(reverse("task-detail", args=[task.slug])).content.decode()
    assert "Describe the image." not in page
    assert texts(task) == ["Describe the image."]


def test_reviewer_reads_the_pool_but_cannot_edit(client, task, reviewer):
    InstructionFactory(task=task, text="Describe the image.")
    client.force_login(reviewer)
    page = client.get(reverse("task-detail", args=[task.slug])).content.decode()
    assert "Describe the image." in page
    assert 'id="add-form"' not in page
    assert client.post(add_url(task), {"text": "Reviewer's idea."}).status_code == 403
    instruction = task.instructions.get()
    assert client.post(reverse("instruction-edit", args=[task.slug, instruction.pk]), {"text": "X"}).status_code == 403
    assert texts(task) == ["Describe the image."]


def test_locked_pool_refuses_edits_from_the_web(client, task, annotator):
    for n in range(10):
        InstructionFactory(task=task, text=f"Instruction {n} about the image.", position=n)
    client.force_login(annotator)
    response = client.post(reverse("pool-submit", args=[task.slug]), follow=True)
    assert "Submitted" in response.content.decode()
    task.refresh_from_db()
    assert task.pool_status == PoolStatus.SUBMITTED

    first = task.instructions.order_by("position").first()
    response = client.post(add_url(task), {"text": "An eleventh instruction."}, follow=True)
    assert "submitted and locked" in response.content.decode()
    response = client.post(reverse("instruction-edit", args=[task.slug, first.pk]), {"text": "Changed."}, follow=True)
    assert "submitted and locked" in response.content.decode()
    client.post(reverse("instruction-delete", args=[task.slug, first.pk]))
    assert len(texts(task)) == 10 and texts(task)[0] == "Instruction 0 about the image."
    assert 'id="add-form"' not in client.get(reverse("task-detail", args=[task.slug])).content.decode()


def test_nine_instructions_cannot_be_submitted_from_the_web(client, task, annotator):
    for n in range(9):
        InstructionFactory(task=task, text=f"Instruction {n} about the image.", position=n)
    client.force_login(annotator)
    response = client.post(reverse("pool-submit", args=[task.slug]), follow=True)
    assert "needs at least 10 distinct instructions" in response.content.decode()
    task.refresh_from_db()
    assert task.pool_status == PoolStatus.OPEN


def test_admin_returns_with_a_comment_the_writer_sees(client, task, annotator, admin_user):
    task.pool_status = PoolStatus.SUBMITTED
    task.save()
    client.force_login(admin_user)
    client.post(reverse("pool-return", args=[task.slug]), {"comment": "Please vary the verbs."})
    task.refresh_from_db()
    assert task.pool_status == PoolStatus.RETURNED
    client.force_login(annotator)
    assert "Please vary the verbs." in client.get(reverse("task-detail", args=[task.slug])).content.decode()
    assert "Please vary the verbs." in client.get(reverse("home")).content.decode()


def test_history_shows_before_and_after(client, task, annotator):
    client.force_login(annotator)
    client.post(add_url(task), {"text": "Describe the image."})
    instruction = task.instructions.get()
    client.post(reverse("instruction-edit", args=[task.slug, instruction.pk]), {"text": "Describe the photo."})
    event = InstructionEvent.objects.get(task=task, action="update")
    assert (event.before["text"], event.after["text"], event.actor) == (
        "Describe the image.",
        "Describe the photo.",
        annotator,
    )
    page = client.get(reverse("task-detail", args=[task.slug])).content.decode()
    assert '<td class="before">Describe the image.</td><td class="after">Describe the photo.</td>' in page


def test_live_stats_endpoint(client, task, annotator):
    InstructionFactory(task=task, text="a b", position=0)
    InstructionFactory(task=task, text="a b c", position=1)
    client.force_login(annotator)
    data = client.get(reverse("pool-live-stats", args=[task.slug]), {"draft": "x b c"}).json()
    # pool with the draft: "a b", "a b c", "x b c" → tokens 2, 3, 3; distances 2, 3, 1; two are saved
    assert data["count"] == 2 and data["count_with_draft"] == 3
    assert data["tokens"]["mean"] == round(8 / 3, 2)
    assert data["edit_distance"] == {"n": 3, "mean": 2.0, "sd": 1.0}
    assert data["draft"]["tokens"] == 3


def test_chinese_task_page_expects_chinese(client, annotator, reviewer):
    task = TaskFactory(writer=annotator, reviewer=reviewer, language="zh", group="chinese")
    client.force_login(annotator)
    assert "write the instructions in Chinese" in client.get(reverse("task-detail", args=[task.slug])).content.decode()
    data = client.get(reverse("pool-live-stats", args=[task.slug]), {"draft": "Describe the food."}).json()
    assert [w["kind"] for w in data["draft"]["warnings"]] == ["language"]
    data = client.get(reverse("pool-live-stats", args=[task.slug]), {"draft": "请描述这道菜。"}).json()
    assert data["draft"] == {"tokens": 7, "warnings": []}


def test_task_page_shows_real_samples_with_images(client, task, annotator):
    SampleFactory(task=task, inputs="What colour is the square?", outputs="red")
    client.force_login(annotator)
    page = client.get(reverse("task-detail", args=[task.slug])).content.decode()
    assert "What colour is the square?" in page
    assert "/images/" in page and "<img" in page


def test_export_and_import_round_trip_on_the_web(client, task, annotator, admin_user):
    for n, text in enumerate(["Describe the image.", "描述这张图片。", 'Say "what" you see.']):
        InstructionFactory(task=task, text=text, position=n)
    client.force_login(admin_user)
    response = client.get(reverse("instruction-export", args=[task.slug]))
    assert response["Content-Disposition"] == f'attachment; filename="{task.slug}-instructions.json"'
    exported = response.content
    assert json.loads(exported) == ["Describe the image.", "描述这张图片。", 'Say "what" you see.']

    other = TaskFactory()
    upload = SimpleUploadedFile("instructions.json", exported, content_type="application/json")
    response = client.post(reverse("instruction-import", args=[other.slug]), {"file": upload}, follow=True)
    assert "Imported 3 instructions" in response.content.decode()
    assert texts(other) == texts(task)


def test_bad_json_import_gives_a_clear_message_and_changes_nothing(client, task, admin_user):
    InstructionFactory(task=task, text="Keep me.")
    client.force_login(admin_user)
    upload = SimpleUploadedFile("instructions.json", b'["one", "two",]')
    response = client.post(reverse("instruction-import", args=[task.slug]), {"file": upload}, follow=True)
    page = response.content.decode()
    assert "Nothing was imported: The file is not valid JSON (line 1, column" in page
    assert texts(task) == ["Keep me."]


def test_statistics_page_and_csv(client, annotator):
    a = TaskFactory(slug="alpha", group="vqa", language="en")
    b = TaskFactory(slug="beta", group="captioning", language="en")
    InstructionFactory(task=a, text="a b", position=0)
    InstructionFactory(task=a, text="a b c", position=1)
    InstructionFactory(task=b, text="x b c", position=0)
    client.force_login(annotator)
    page = client.get(reverse("instruction-stats")).content.decode()
    assert "character Levenshtein distance" in page
    assert "words (split on whitespace)" in page and "characters" in page
    assert '<svg class="chart" id="distance-chart"' in page

    rows = list(csv.DictReader(io.StringIO(client.get(reverse("instruction-stats-csv")).content.decode())))
    by_key = {(r["level"], r["key"]): r for r in rows}
    overall = by_key[("all", "all")]
    # tokens 2, 3, 3; within alpha: d("a b","a b c") = 2; across: d("a b","x b c") = 3, d("a b c","x b c") = 1
    assert overall["instructions"] == "3"
    assert float(overall["tokens_mean"]) == pytest.approx(8 / 3, abs=1e-4)
    assert overall["within_task_pairs"] == "1" and float(overall["within_task_edit_distance_mean"]) == 2.0
    assert overall["across_task_pairs"] == "2" and float(overall["across_task_edit_distance_mean"]) == 2.0
    assert float(overall["across_task_edit_distance_sd"]) == pytest.approx(2**0.5, abs=1e-4)
    assert by_key[("group", "captioning")]["instructions"] == "1"
    assert by_key[("task", "beta")]["within_task_pairs"] == "0"
    assert by_key[("task", "beta")]["within_task_edit_distance_mean"] == ""


def test_import_into_a_locked_pool_is_refused(client, task, admin_user):
    task.pool_status = PoolStatus.SUBMITTED
    task.save()
    client.force_login(admin_user)
    upload = SimpleUploadedFile("instructions.json", b'["One."]')
    response = client.post(reverse("instruction-import", args=[task.slug]), {"file": upload}, follow=True)
    assert "unlock it before importing" in response.content.decode()
    assert pool.export_texts(task) == []


def test_moving_an_instruction_up_is_shown_in_the_history(client, task, annotator):
    client.force_login(annotator)
    for text in ("First.", "Second.", "Third."):
        client.post(add_url(task), {"text": text})
    third = task.instructions.get(text="Third.")
    client.post(reverse("instruction-move", args=[task.slug, third.pk]), {"direction": "up"})
    assert texts(task) == ["First.", "Third.", "Second."]
    page = client.get(reverse("task-detail", args=[task.slug])).content.decode()
    assert f'<td class="before">instruction {third.pk} at #3</td><td class="after">at #2</td>' in page


def test_statistics_follow_changes_to_the_pool(client, task, annotator):
    InstructionFactory(task=task, text="a b", position=0)
    second = InstructionFactory(task=task, text="a b c", position=1)
    client.force_login(annotator)

    def overall():
        rows = csv.DictReader(io.StringIO(client.get(reverse("instruction-stats-csv")).content.decode()))
        return next(r for r in rows if r["level"] == "all")

    assert overall()["within_task_edit_distance_mean"] == "2.0000"
    pool.edit_instruction(task, annotator, second.pk, "a b c d")  # distance to "a b" becomes 4
    assert overall()["within_task_edit_distance_mean"] == "4.0000"
    pool.add_instruction(task, annotator, "a")  # distances 4, 2, 6 → mean 4
    row = overall()
    assert row["instructions"] == "3" and row["within_task_pairs"] == "3"
    assert row["within_task_edit_distance_mean"] == "4.0000"
