"""An admin exports the approved dataset from the web as a new user would, downloads it and deletes it."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import orjson
import pytest

from config.celery import app as celery_app
from pipeline.models import Export
from tests.e2e.conftest import login
from tests.factories import UserFactory
from tests.pipeline.export.export_data import build_small_dataset

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("EXPORT_SCREENSHOTS")  # a folder: save screenshots of the pages to look at


@pytest.fixture
def jobs_in_the_server():
    """Jobs run inside the live server's request (no worker process in this test)."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_admin_exports_downloads_and_deletes(page, settings, tmp_path, jobs_in_the_server):
    settings.EXPORT_ROOT = tmp_path / "exports"
    build_small_dataset()
    UserFactory(username="boss", is_staff=True)
    login(page, "boss")
    page.click("nav >> text=Exports")
    assert page.is_checked("#task-alpha") and page.is_checked("#task-beta")
    assert not page.is_checked("#task-gamma")  # nothing of gamma is approved
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "export-list.png"), full_page=True)
    page.check("#task-gamma")
    page.click("#export-start button[type=submit]")
    page.wait_for_selector("text=Files")
    export = Export.objects.get()
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "export-detail.png"), full_page=True)
    assert page.locator("text=data/vqa/alpha/train.jsonl").count() >= 1
    left_out = page.locator("section:has-text('Asked for but left out')").inner_text()
    assert "gamma" in left_out and "not approved by QC" in left_out

    with page.expect_download() as info:
        page.click("text=Download (.zip")
    data = Path(info.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = orjson.loads(archive.read(f"{export.name}/manifest.json"))
        assert manifest["digest"] == Export.objects.get().digest
        assert f"{export.name}/data/captioning/beta_caps/train.jsonl" in archive.namelist()

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=Delete export")
    page.wait_for_selector(f"text=Export {export.name} deleted.")
    assert not Export.objects.exists()
    assert list((tmp_path / "exports").iterdir()) == []
