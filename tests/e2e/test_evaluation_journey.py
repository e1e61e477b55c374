"""An admin opens an evaluation's results (Tables 4-6 beside the paper), its predictions, and a comparison."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.jobs.runner import run_job
from tests.pipeline.fake_llm import FakeLLM
from training.evaluation.run import start_evaluation
from training.models import Backend
from training.tasks import evaluate

from ..factories import UserFactory
from ..training.evaluation.helpers import record, write_export
from .conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin_reads_results_and_compares(page, settings, tmp_path: Path) -> None:
    export = write_export(
        tmp_path / "export",
        {
            ("okvqa", "kvqa", "val"): [record("Answer.", f"What is it {i}?", "a black cat") for i in range(3)],
            ("msvd-qa", "video", "val"): [record("Watch.", "Who cooks?", "the man")],
        },
    )
    answers = {"vlm-a": "a black cat.\nmore", "vlm-b": "a dog"}
    with FakeLLM(responder=lambda body: answers[body["model"]]) as server:
        settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "k", server.base_url
        settings.PARAPHRASE_MAX_ATTEMPTS = 1
        ids = []
        for model in answers:
            ev = start_evaluation(export_value=str(export), backend=Backend.ENDPOINT, model_name=model)
            run_job(ev.job_id, evaluate.body)
            ids.append(ev.pk)
    UserFactory(username="boss", is_staff=True)
    login(page, "boss")
    page.click("nav >> text=Evaluations")
    page.click("text=vlm-a")
    table4 = page.locator("#table-table4")
    assert "Ying-VLM (paper)" in table4.inner_text()
    ours = table4.locator("tr.ours").inner_text()
    assert "vlm-a" in ours and "100.0" in ours  # OK-VQA column: every answer matched
    assert "14.2" in page.locator("#table-table6").inner_text()  # the paper's Ying-VLM on MSRVTT
    assert page.locator("svg").count() >= 1

    page.click("text=Browse predictions")
    assert page.locator("table.predictions tr").count() == 5  # header + 4 records
    assert "a black cat." in page.locator("table.predictions").inner_text()
    assert "more" not in page.locator("table.predictions").inner_text()  # cut at the first newline

    page.click("nav >> text=Evaluations")
    for pk in ids:
        page.check(f"input[name=ids][value='{pk}']")
    page.click("text=Compare selected")
    rows = page.locator("#table-table4 tr.ours")
    assert rows.count() == 2 and "vlm-b" in rows.nth(1).inner_text()
    with page.expect_download() as download:
        page.locator("#table-tasks").get_by_text("Markdown").click()
    text = Path(download.value.path()).read_text()
    assert "| okvqa | kvqa | 100.0 |" in text

    page.set_viewport_size({"width": 390, "height": 800})  # phone width: the page itself does not scroll sideways
    page.reload()
    wide = page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 400)"
        ".slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 400, wide
