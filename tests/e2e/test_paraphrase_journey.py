"""An admin paraphrases a split in the browser: picks it, reads the estimate, starts, sees the outcomes."""

from __future__ import annotations

import pytest

from config.celery import app as celery_app
from pipeline.models import ParaphraseState, Sample
from pipeline.samples import counts
from tests.e2e.conftest import login
from tests.factories import AdminFactory, TaskFactory
from tests.pipeline.fake_llm import FakeLLM

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def jobs_in_process():
    """The live server runs each job as soon as it is queued (no worker process in this test)."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_admin_paraphrases_a_split_end_to_end(page, settings, jobs_in_process):
    with FakeLLM() as server:
        settings.OPENAI_API_KEY = "test-key"
        settings.OPENAI_BASE_URL = server.base_url
        settings.PARAPHRASE_MODEL = "fake-model"
        settings.PARAPHRASE_BACKOFF_BASE_SECONDS = 0.01
        task = TaskFactory(slug="vqa-browser", name="VQA Browser")
        rows = [("What is it?", "kite"), ("[wrong] How many?", "3"), ("Is it <b>red</b>?", "yes")]
        for i, (question, answer) in enumerate(rows):
            sample = Sample.objects.create(
                task=task, split="val", source_id=f"b{i}", inputs=question, outputs=answer,
                original_output=answer, paraphrase_state=ParaphraseState.PENDING,
            )  # fmt: skip
            counts.inserted([sample])
        login(page, AdminFactory().username)

        page.click("nav >> text=Paraphrase")
        page.check("input[value='vqa-browser/val']")
        page.fill("#id_budget_usd", "2")
        page.click("button:text('Estimate')")
        assert page.locator("#estimate [data-field=samples]").inner_text() == "3"
        assert "fake-model" in page.locator("#estimate").inner_text()

        page.click("#start-button")
        page.wait_for_url("**/paraphrase/jobs/*/")
        page.wait_for_selector(".job-progress .progress.succeeded")
        assert page.locator("[data-count=accepted]").inner_text() == "2"
        assert page.locator("[data-count=fallback]").inner_text() == "1"
        assert len(server.hits) == 3
        text = page.locator("main").inner_text()
        assert "Based on the image, the answer is kite." in text
        assert "The answer is 3." in text and "changes or drops a number" in text

        # The hostile-looking question is shown as text, not markup; the sample page shows how it was made.
        page.click("text=vqa-browser/val/b2")
        assert "Is it <b>red</b>?" in page.locator("main").inner_text()
        assert page.locator("main b:text('red')").count() == 0
        assert "chat.completion" in page.locator("#raw-response").inner_text()
