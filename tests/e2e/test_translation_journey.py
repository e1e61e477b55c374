"""An admin plans a translation in the browser, starts it, watches it, and reads a language beside English."""

from __future__ import annotations

import pytest

from config.celery import app as celery_app
from pipeline.models import Translation

from ..factories import UserFactory
from ..pipeline.translation.conftest import ensure_languages, nllb_dir, tiny_settings  # noqa: F401 - fixtures
from ..pipeline.translation.data import translated_task
from .conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def jobs_in_the_server():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_admin_plans_starts_watches_and_reads_a_translation(page, tiny_settings, jobs_in_the_server):  # noqa: F811
    ensure_languages()
    task = translated_task(slug="okvqa-e2e")
    UserFactory(username="boss", is_staff=True)
    login(page, "boss")

    page.click("nav >> text=Translation")
    assert page.locator("#languages tr[data-language]").count() == 80
    page.check("#task-okvqa-e2e")
    page.fill("#id_languages", "fr ar")
    page.click("#plan-button")
    assert page.locator("#plan [data-field=samples]").inner_text() == "9"
    assert page.locator("#plan [data-field=translations]").inner_text() == "18"
    assert "not calibrated" in page.locator("#plan [data-field=estimate]").inner_text()

    page.click("#calibrate-button")
    page.check("#task-okvqa-e2e")
    page.fill("#id_languages", "fr ar")
    page.click("#plan-button")
    assert "pieces/s measured by job" in page.locator("#plan [data-field=estimate]").inner_text()

    page.click("#start-button")
    page.wait_for_url("**/translation/jobs/*/")
    page.wait_for_selector(".job-progress .progress.succeeded")
    page.wait_for_selector("#language-bars tr[data-language=ar]")
    for code in ("ar", "fr"):
        row = page.locator(f"#language-bars tr[data-language={code}]")
        assert row.locator("[data-field=done]").inner_text() == row.locator("[data-field=total]").inner_text() == "12"
    assert Translation.objects.filter(sample__task=task).count() == 18

    page.goto("/translation/results/")
    page.click("a[data-language=ar]")
    page.wait_for_url("**/translation/results/okvqa-e2e/ar/")
    cells = page.locator("td.translated")
    assert cells.count() == 9
    assert cells.first.get_attribute("dir") == "rtl" and cells.first.get_attribute("lang") == "ar"
    assert "How many dogs are there?" in page.locator("table.side-by-side").inner_text()  # English beside it
    page.click("a:text('fr')")
    assert page.locator("td.translated").first.get_attribute("dir") == "ltr"
    page.fill("#id_note", "word salad")
    page.click("#unusable-button")
    assert (
        "marked unusable" in page.locator("#unusable").inner_text()
        or "word salad" in page.locator("#unusable").inner_text()
    )
