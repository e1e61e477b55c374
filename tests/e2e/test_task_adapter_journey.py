"""An admin picks a task on the import page, gets its adapter, uploads the dataset as published, sees samples."""

from __future__ import annotations

import json
import zipfile

import pytest

from annotator.registry import load_tasks
from config.celery import app as celery_app
from pipeline.models import Sample
from tests.e2e.conftest import login
from tests.factories import AdminFactory
from tests.pipeline.imports.files import id_image

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def jobs_in_process():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def _winoground_zip(tmp_path) -> str:
    record = {
        "id": 0,
        "caption_0": "a cup on a book",
        "caption_1": "a book on a cup",
        "image_0": "ex_0_img_0",
        "image_1": "ex_0_img_1",
        "tag": "Noun",
        "collapsed_tag": "Object",
    }
    path = tmp_path / "winoground.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("examples.jsonl", json.dumps(record) + "\n")
        archive.writestr("images/ex_0_img_0.png", id_image(1, "PNG"))
        archive.writestr("images/ex_0_img_1.png", id_image(2, "PNG"))
    return str(path)


def test_choosing_a_task_picks_its_adapter_and_the_import_runs(page, tmp_path, settings, jobs_in_process):
    settings.IMPORT_ROOT = tmp_path / "imports"
    load_tasks()
    login(page, AdminFactory().username)
    page.click("nav >> text=Imports")
    page.select_option("#id_task", "mocheg")
    assert page.input_value("#id_adapter") == "mocheg"
    assert "corpus=Corpus2.csv" in page.get_attribute("#id_files", "placeholder")
    page.select_option("#id_task", "winoground")
    assert page.input_value("#id_adapter") == "winoground"
    assert "examples=examples.jsonl" in page.get_attribute("#id_files", "placeholder")
    page.select_option("#id_split", "test")
    page.set_input_files("#id_upload", _winoground_zip(tmp_path))
    page.click("button:text('Start import')")
    page.wait_for_selector("#import-result")
    assert "succeeded" in page.locator(".job-progress [data-field=status]").inner_text()
    assert Sample.objects.filter(task__slug="winoground", split="test").count() == 2
    assert Sample.objects.get(source_id="0-image1").outputs == "(B) a book on a cup"
