"""An admin imports a region dataset from a zip upload, watches it finish, and browses the boxed images."""

from __future__ import annotations

import io
import json
import os
import zipfile

import pytest
from PIL import Image as PILImage

from annotator.registry import load_tasks
from config.celery import app as celery_app
from pipeline.models import Sample
from tests.e2e.conftest import login
from tests.factories import AdminFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("IMPORT_SCREENSHOTS")  # a folder: save screenshots of the pages to look at


def shot(page: object, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def _regions_zip(tmp_path, broken_line: bool = False) -> str:
    image = io.BytesIO()
    PILImage.new("RGB", (300, 200), (30, 140, 60)).save(image, format="PNG")
    lines = [
        {"id": f"r{i}", "image": "street.png", "boxes": [[20 + i, 20, 150, 120]], "inputs": "", "output": f"car {i}"}
        for i in range(3)
    ]
    text = "".join(json.dumps(line) + "\n" for line in lines) + ("{broken\n" if broken_line else "")
    path = tmp_path / ("broken.zip" if broken_line else "regions.zip")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("regions.jsonl", text)
        archive.writestr("images/street.png", image.getvalue())
    return str(path)


@pytest.fixture
def jobs_in_process():
    """The live server runs each job as soon as it is queued (no worker process in this test)."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_admin_imports_a_zip_and_browses_boxed_samples(page, tmp_path, settings, jobs_in_process):
    settings.IMPORT_ROOT = tmp_path / "imports"
    load_tasks()
    admin = AdminFactory()
    login(page, admin.username)
    page.click("nav >> text=Imports")
    page.select_option("#id_adapter", "regions")
    page.select_option("#id_task", "coco-goi")
    page.select_option("#id_split", "train")

    # First a file with a broken line: nothing is imported and the page says where.
    page.set_input_files("#id_upload", _regions_zip(tmp_path, broken_line=True))
    shot(page, "import-form")
    page.click("button:text('Start import')")
    page.wait_for_selector("#import-result")
    shot(page, "import-failed")
    assert "failed" in page.locator(".job-progress [data-field=status]").inner_text()
    assert "regions.jsonl" in page.locator("#import-result").inner_text()
    assert "line 4" in page.locator("#import-result").inner_text()
    assert Sample.objects.count() == 0

    page.click("nav >> text=Imports")
    page.select_option("#id_adapter", "regions")
    page.select_option("#id_task", "coco-goi")
    page.set_input_files("#id_upload", _regions_zip(tmp_path))
    page.click("button:text('Start import')")
    page.wait_for_selector("#import-result")
    shot(page, "import-succeeded")
    result = page.locator("#import-result table.counts").inner_text()
    assert "3" in result and "succeeded" in page.locator(".job-progress [data-field=status]").inner_text()

    page.click("text=Browse the samples")
    page.wait_for_selector("table.samples img")
    assert page.locator("table.samples img").count() == 3
    shot(page, "samples")
    page.click(f"text=#{Sample.objects.get(source_id='r0').pk}")
    assert "boxes drawn in red" in page.locator("main").inner_text()
    shot(page, "sample-detail")
    loaded = page.locator("main img").first.evaluate("img => img.complete && img.naturalWidth")
    assert loaded == 300
