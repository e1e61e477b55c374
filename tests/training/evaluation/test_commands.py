"""The three commands as a user runs them: evaluate (a model folder, an endpoint), judge, ablate."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from training.models import AblationPoint, Evaluation, JudgeComparison, PointStatus

from .helpers import record, write_export
from .test_judge import judge_reply
from .test_run import endpoint_reply

pytestmark = pytest.mark.django_db(transaction=True)  # the job body runs in a thread of the command


@pytest.fixture
def export(tmp_path: Path) -> Path:
    splits = {
        ("okvqa", "kvqa", "val"): [record("Answer the question.", f"What is {i}?", "a cat") for i in range(3)],
        ("okvqa", "kvqa", "train"): [record("Answer the question.", f"Q{i}", "a cat") for i in range(4)],
        ("gqa", "vqa", "train"): [record("Answer.", f"Q{i}", "yes") for i in range(4)],
    }
    return write_export(tmp_path / "export", splits)


def test_evaluate_endpoint_then_judge(export: Path, settings) -> None:
    from tests.pipeline.fake_llm import FakeLLM

    def reply(body: dict) -> str | None:
        return judge_reply(body) if isinstance(body["messages"][-1]["content"], str) else endpoint_reply(body)

    with FakeLLM(responder=reply) as server:
        settings.OPENAI_API_KEY = "k"
        settings.OPENAI_BASE_URL = server.base_url
        settings.PARAPHRASE_MAX_ATTEMPTS = 1
        settings.JOB_PROGRESS_MIN_INTERVAL = 0
        out, err = io.StringIO(), io.StringIO()
        call_command("evaluate", "--endpoint-model", "vlm-a", "--export", str(export), stdout=out, stderr=err)
        assert "okvqa" in out.getvalue() and "ROUGE-L" in out.getvalue()
        assert "Table 4: knowledge-intensive VQA" in out.getvalue()  # okvqa is in Table 4: printed beside the paper
        assert "job #" in err.getvalue()  # the tqdm bar
        call_command("evaluate", "--endpoint-model", "vlm-b", "--export", str(export), stdout=io.StringIO(), stderr=err)
        a, b = Evaluation.objects.order_by("pk")
        out = io.StringIO()
        call_command("judge", "--a", str(a.pk), "--b", str(b.pk), "--yes", stdout=out, stderr=io.StringIO())
        text = out.getvalue()
        assert "3 records, 18 requests (0 cached)" in text and "estimated $" in text
        assert "A won 0, tie 3, lost 0" in text and "spent $" in text
        assert JudgeComparison.objects.get().counts["ties"] == 3


def test_evaluate_refuses_bad_input_clearly(export: Path) -> None:
    with pytest.raises(CommandError, match="no test split"):
        call_command("evaluate", "--model-path", "x", "--export", str(export), "--split", "test", stdout=io.StringIO())
    with pytest.raises(CommandError, match="not a folder"):
        call_command("evaluate", "--model-path", "x", "--export", "/no/such/export", stdout=io.StringIO())
    assert not Evaluation.objects.exists()


def test_ablate_and_evaluate_a_run_on_the_tiny_config(eval_export: Path, settings, tmp_path: Path) -> None:
    settings.JOB_PROGRESS_MIN_INTERVAL = 0
    settings.TRAINING_ROOT = tmp_path / "training"
    out = io.StringIO()
    call_command(
        "ablate",
        "tasks",
        "--counts",
        "0,2",
        "--export",
        str(eval_export),
        "--eval-tasks",
        "clips",
        "--steps",
        "2",
        stdout=out,
        stderr=io.StringIO(),
    )
    points = AblationPoint.objects.order_by("count")
    assert [(p.count, p.status, len(p.train_tasks)) for p in points] == [
        (0, PointStatus.DONE, 0),
        (2, PointStatus.DONE, 2),
    ]
    assert "ROUGE-L" in out.getvalue() and "/evaluations/ablations/" in out.getvalue()

    run_id = points[1].training_run_id  # the point's run, evaluated again by id as a user would
    out = io.StringIO()
    call_command(
        "evaluate",
        "--run",
        str(run_id),
        "--export",
        str(eval_export),
        "--tasks",
        "colours",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert "colours" in out.getvalue() and Evaluation.objects.filter(training_run_id=run_id).count() == 2


def test_the_run_page_button_starts_an_evaluation(eval_export: Path, settings, tmp_path: Path, admin_user) -> None:
    from django.test import Client
    from django.urls import reverse

    from pipeline.jobs.runner import run_job
    from training import runs
    from training.tasks import train_model

    settings.TRAINING_ROOT = tmp_path / "training"
    run = runs.start_run(None, str(eval_export), "tiny", {"optim": {"max_steps": 2}})
    client = Client()
    client.force_login(admin_user)
    # no checkpoint yet: back to the run page with the reason, nothing created
    response = client.post(reverse("training-run-evaluate", args=[run.pk]), follow=True)
    assert "has no checkpoint yet" in response.content.decode() and not Evaluation.objects.exists()
    run_job(run.job_id, train_model.body)
    page = client.get(reverse("training-run-detail", args=[run.pk])).content.decode()
    assert "Evaluate the last checkpoint" in page
    response = client.post(reverse("training-run-evaluate", args=[run.pk]), {"split": "val"})
    evaluation = Evaluation.objects.get()
    assert response["Location"] == reverse("evaluation-detail", args=[evaluation.pk])
    assert evaluation.training_run_id == run.pk and evaluation.split == "val" and evaluation.job.queue == "gpu"
