"""Stage I in the browser: an annotator writes ten instructions, watches the statistics, submits."""

import pytest

from annotator.models import PoolStatus, Task
from tests.e2e.conftest import login
from tests.factories import AnnotatorFactory, ReviewerFactory, TaskFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

INSTRUCTIONS = [
    "Look at the image and answer the question.",
    "Answer the question using what you see in the picture.",
    "Study the photo carefully, then reply to the question below.",
    "Based on the image, give a short and accurate answer.",
    "You are shown an image. What is the answer to the question?",
    "Examine the scene and respond to the question in one sentence.",
    "Using only the visual content, answer this question.",
    "Read the question, inspect the image, and answer it.",
    "Give a brief answer to the question about this picture.",
    "What does the image tell you? Answer the following question.",
]


def test_annotator_writes_ten_instructions_sees_statistics_and_submits(page):
    annotator = AnnotatorFactory()
    task = TaskFactory(slug="vqa-demo", name="VQA demo", writer=annotator, reviewer=ReviewerFactory())
    login(page, annotator.username)

    page.click("text=VQA demo")
    page.wait_for_url(f"**/tasks/{task.slug}/")
    assert page.locator("#submit-pool").is_disabled()

    for number, text in enumerate(INSTRUCTIONS, start=1):
        page.fill("#new-instruction", text)
        # the count is what is saved; the draft shows apart as it is typed
        page.wait_for_function(
            "n => document.getElementById('stat-count').textContent === n", arg=f"{number - 1} (+1 draft)"
        )
        words = len(text.split())
        page.locator("#draft-feedback .draft-tokens", has_text=f"{words} words").wait_for()
        page.click("#add-instruction")
        page.locator(f"#pool-list li:nth-child({number}) .text", has_text=text).wait_for()

    assert page.locator("#pool-list li.pool-item").count() == 10
    assert page.locator("#stat-count").text_content() == "10"
    mean_words = sum(len(t.split()) for t in INSTRUCTIONS) / 10
    assert page.locator("#stat-tokens").text_content() == f"{mean_words:.1f}"
    assert page.locator("#stat-distance").text_content() not in ("", "—")

    # a near-copy of #1 is named with its similarity before it is even added
    page.fill("#new-instruction", "Look at the image and answer the questions.")
    warning = page.locator("#draft-feedback .warning-line.near-duplicate")
    warning.wait_for()
    assert "#1" in warning.text_content() and "similar" in warning.text_content()
    page.fill("#new-instruction", "")

    assert page.locator("#submit-pool").is_enabled()
    page.click("#submit-pool")
    page.locator("#pool-status", has_text="Submitted").wait_for()
    assert page.locator("#add-form").count() == 0
    task = Task.objects.get(pk=task.pk)
    assert task.pool_status == PoolStatus.SUBMITTED
    assert list(task.instructions.order_by("position").values_list("text", flat=True)) == INSTRUCTIONS
