"""Report pages and downloads: the paper's numbers beside ours, CSV and Markdown, predictions, charts."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from training.models import AblationPoint, AblationSeries, Backend, Evaluation, JudgeComparison, Prediction

pytestmark = pytest.mark.django_db


def make_evaluation(name: str, okvqa: float, extra: dict | None = None) -> Evaluation:
    tasks = {"okvqa": {"rouge_l": okvqa, "records": 2, "group": "kvqa"}} | (extra or {})
    ev = Evaluation.objects.create(
        name=name,
        backend=Backend.ENDPOINT,
        model_name=name,
        export_path="/x",
        results={"tasks": tasks, "groups": {"kvqa": okvqa}, "overall": okvqa, "records": 2},
    )
    Prediction.objects.create(
        evaluation=ev,
        task="okvqa",
        split="val",
        record_id="7",
        prompt="\n<human>:\nQ\n<bot>:\n",
        prediction=f"{name} says a cat",
        reference="a black cat",
        rouge_l=okvqa,
    )
    return ev


@pytest.fixture
def client(admin_user) -> Client:
    c = Client()
    c.force_login(admin_user)
    return c


def test_results_page_has_table4_with_the_paper_beside(client: Client) -> None:
    ev = make_evaluation("ours", 0.3125)
    page = client.get(reverse("evaluation-detail", args=[ev.pk])).content.decode()
    assert "Table 4: knowledge-intensive VQA" in page and "Ying-VLM (paper)" in page and "27.5" in page
    assert "31.2" in page  # ours: 0.3125 x 100, one decimal
    assert "<svg" in page

    body = client.get(reverse("evaluation-table", args=[ev.pk, "table4", "csv"]))
    assert body["Content-Type"].startswith("text/csv") and "attachment" in body["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(body.content.decode())))
    assert rows[0] == ["model", "OK-VQA", "A-OKVQA", "ViQuAE"]
    assert rows[4] == ["Ying-VLM (paper)", "27.5", "24.5", "29.6"]
    assert rows[-1] == [f"#{ev.pk} ours", "31.2", "", ""]
    md = client.get(reverse("evaluation-table", args=[ev.pk, "groups", "md"])).content.decode()
    assert "| model | kvqa | overall |" in md and f"| #{ev.pk} ours | 31.2 | 31.2 |" in md
    assert client.get(reverse("evaluation-table", args=[ev.pk, "nope", "csv"])).status_code == 404
    assert client.get(reverse("evaluation-table", args=[ev.pk, "table4", "xls"])).status_code == 404


def test_predictions_beside_references(client: Client) -> None:
    ev = make_evaluation("ours", 0.5)
    page = client.get(reverse("evaluation-predictions", args=[ev.pk]), {"task": "okvqa"}).content.decode()
    assert "ours says a cat" in page and "a black cat" in page and "50.0" in page


def test_comparison_of_two_evaluations(client: Client) -> None:
    a = make_evaluation("alpha", 0.25, {"msvd-qa": {"rouge_l": 0.1, "records": 1, "group": "video"}})
    b = make_evaluation("beta", 0.5)
    page = client.get(reverse("evaluation-compare"), {"ids": [a.pk, b.pk]}).content.decode()
    assert f"#{a.pk} alpha" in page and f"#{b.pk} beta" in page and "Table 6: zero-shot video" in page
    md = client.get(
        reverse("evaluation-compare-table", args=["tasks", "md"]), {"ids": f"{a.pk},{b.pk}"}
    ).content.decode()
    assert "| okvqa | kvqa | 25.0 | 50.0 |" in md and "| msvd-qa | video | 10.0 | — |" in md


def test_judge_and_ablation_pages_draw_their_figures(client: Client) -> None:
    a, b = make_evaluation("alpha", 0.25), make_evaluation("beta", 0.5)
    comparison = JudgeComparison.objects.create(
        evaluation_a=a,
        evaluation_b=b,
        model="judge",
        counts={"wins": 5, "ties": 1, "losses": 2, "undecided": 0, "win_rate": 62.5},
    )
    page = client.get(reverse("judge-detail", args=[comparison.pk])).content.decode()
    assert "<svg" in page and "won: 5" in page and "Ying-VLM vs MiniGPT4 (paper)" in page and "won: 167" in page
    series = AblationSeries.objects.create(kind="tasks", export_path="/x", counts=[0, 4, 8])
    AblationPoint.objects.create(series=series, count=0, status="done", score=0.1)
    AblationPoint.objects.create(series=series, count=4, status="done", score=0.2)
    AblationPoint.objects.create(series=series, count=8)  # not finished: not on the curve
    page = client.get(reverse("ablation-detail", args=[series.pk])).content.decode()
    assert page.count("<circle") == 2 and "number of tasks" in page and "Figure 5" in page
