"""An admin starts a tiny training run in the browser and watches its loss curve grow, live.

The run goes through a real Celery worker process (the gpu queue) while the page polls."""

from __future__ import annotations

import os

import pytest

from tests.e2e.conftest import login
from tests.training.export_data import build_training_dataset
from training.models import RunStatus, TrainingRun

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("TRAINING_SCREENSHOTS")  # a folder: save screenshots of the pages to look at


def _points(page: object) -> int:
    return int(page.get_attribute("#loss-chart", "data-points") or 0)


def test_admin_starts_a_tiny_run_and_watches_the_curve_grow(page, settings, tmp_path, celery_worker_factory):
    settings.EXPORT_ROOT = tmp_path / "exports"
    settings.TRAINING_ROOT = tmp_path / "training"
    built = build_training_dataset()
    celery_worker_factory(EXPORT_ROOT=str(settings.EXPORT_ROOT), TRAINING_ROOT=str(settings.TRAINING_ROOT))
    login(page, built["admin"].username)
    page.click("nav >> text=Training")
    page.select_option("#id_export", str(built["export"].pk))
    page.select_option("#id_config", "tiny")
    page.fill("#id_max_steps", "120")
    page.click("#run-start button[type=submit]")
    page.wait_for_selector("text=Training run #")
    run = TrainingRun.objects.get()

    page.wait_for_function("Number(document.querySelector('#loss-chart').dataset.points || 0) >= 1", timeout=90_000)
    first = _points(page)
    assert page.is_visible("#run button:has-text('Cancel')")
    page.wait_for_function(
        f"Number(document.querySelector('#loss-chart').dataset.points || 0) > {first}", timeout=60_000
    )
    assert _points(page) > first  # the curve grew while we watched
    assert page.locator("#loss-chart polyline").count() == 1 and page.locator("#lr-chart polyline").count() == 1
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "training-run-live.png"), full_page=True)

    page.wait_for_selector(".badge[data-field=status]:has-text('completed')", timeout=120_000)
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED and run.step == 120
    assert _points(page) == run.metrics.count() == 60
    assert page.inner_text("[data-field=final_loss]").startswith("· final loss")
    assert page.locator("#checkpoints td:has-text('step-120')").count() == 1
    assert not page.is_visible("#run button:has-text('Cancel')")
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "training-run-done.png"), full_page=True)
    page.click("nav >> text=Training")
    assert "completed" in page.inner_text("table") and "tiny" in page.inner_text("table")
