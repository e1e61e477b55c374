"""manage.py export_instructions / import_instructions: a round trip, and bad files refused clearly."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from annotator import pool
from tests.factories import InstructionFactory, TaskFactory

pytestmark = pytest.mark.django_db

POOL = ["Describe the image.", "用一句话描述这张图片。", 'Answer "yes" or "no".', "Line one\nline two."]


def test_export_then_import_round_trip(tmp_path, admin_user):
    source = TaskFactory(slug="source-task", folder="vqa", task_dir="source_dir")
    for n, text in enumerate(POOL):
        InstructionFactory(task=source, text=text, position=n)
    target = TaskFactory(slug="target-task")
    path = tmp_path / "instructions.json"

    call_command("export_instructions", "source-task", "--output", str(path))
    assert json.loads(path.read_text(encoding="utf-8")) == POOL
    call_command("import_instructions", "target-task", str(path), "--as", admin_user.username)
    assert pool.export_texts(target) == POOL

    call_command("export_instructions", "--all", "--output", str(tmp_path / "data"))
    published = tmp_path / "data" / "vqa" / "source_dir" / "instructions.json"
    assert json.loads(published.read_text(encoding="utf-8")) == POOL


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'["one", "two"', "not valid JSON (line 1, column"),
        (b'{"instructions": []}', "must be a JSON list of strings"),
        (b'["fine", null]', "Item 2 of the list is null"),
        (b'["Same.", "same."]', "Items 1 and 2 are the same instruction"),
    ],
)
def test_bad_json_gives_a_clear_message_and_imports_nothing(tmp_path, admin_user, content, message):
    task = TaskFactory()
    InstructionFactory(task=task, text="Already here.")
    path = tmp_path / "instructions.json"
    path.write_bytes(content)
    with pytest.raises(CommandError) as error:
        call_command("import_instructions", task.slug, str(path), "--as", admin_user.username)
    assert message in str(error.value)
    assert "Nothing was imported" in str(error.value)
    assert pool.export_texts(task) == ["Already here."]


def test_import_needs_an_admin(tmp_path, annotator):
    task = TaskFactory()
    path = tmp_path / "instructions.json"
    path.write_text('["One."]')
    with pytest.raises(CommandError, match="Only an admin"):
        call_command("import_instructions", task.slug, str(path), "--as", annotator.username)
