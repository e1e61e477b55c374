"""Evaluating a saved tiny BLIP-2 folder and an OpenAI-compatible endpoint on an export on disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.jobs.runner import run_job
from pipeline.models import Job, JobKind, JobStatus
from tests.pipeline.fake_llm import FakeLLM
from training.evaluation.run import EvaluationError, start_evaluation
from training.models import Backend, Evaluation, Prediction
from training.tasks import evaluate

from .helpers import png_b64, record, write_export

pytestmark = pytest.mark.django_db


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return write_export(
        tmp_path / "export",
        {
            ("okvqa", "kvqa", "val"): [record("Answer the question.", f"What is {i}?", "a cat") for i in range(3)],
            ("coco-cn", "chinese", "val"): [record("描述这张图片。", "", "一只猫在桌子上")],
            ("msvd-qa", "video", "val"): [
                record("Watch.", "What happens?", "he cooks", [png_b64((i * 9, 0, 0)) for i in range(12)])
            ],
        },
    )


@pytest.fixture
def tiny_model_dir(tmp_path: Path) -> Path:
    from training.evaluation.tiny import tiny_blip2, tiny_image_processor, tiny_tokenizer

    tokenizer = tiny_tokenizer()
    path = tmp_path / "tiny-model"
    tiny_blip2(tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    tiny_image_processor().save_pretrained(path)
    return path


def test_a_saved_model_folder_is_evaluated_per_task_and_group(export: Path, tiny_model_dir: Path, settings) -> None:
    settings.JOB_PROGRESS_MIN_INTERVAL = 0
    evaluation = start_evaluation(
        export_value=str(export),
        backend=Backend.HF,
        model_name=str(tiny_model_dir),
        options={"batch_size": 2, "max_new_tokens": 6, "chinese_priming": True},
    )
    assert evaluation.job.kind == JobKind.EVALUATE and evaluation.job.queue == "gpu"
    assert run_job(evaluation.job_id, evaluate.body) == JobStatus.SUCCEEDED
    evaluation.refresh_from_db()
    predictions = Prediction.objects.filter(evaluation=evaluation)
    assert predictions.count() == 5
    assert all("\n" not in p.prediction for p in predictions)
    assert predictions.get(task="coco-cn").prompt.startswith("<human>: 请根据")
    results = evaluation.results
    assert set(results["tasks"]) == {"okvqa", "coco-cn", "msvd-qa"}
    assert results["tasks"]["okvqa"]["records"] == 3 and results["tasks"]["okvqa"]["group"] == "kvqa"
    assert set(results["groups"]) == {"kvqa", "chinese", "video"}
    job = Job.objects.get(pk=evaluation.job_id)
    assert (job.done, job.total) == (5, 5)

    # a job claimed again (a killed worker) skips what is stored and answers only the rest
    predictions.filter(task="okvqa").delete()
    Job.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)
    assert run_job(job.pk, evaluate.body) == JobStatus.SUCCEEDED
    assert Prediction.objects.filter(evaluation=evaluation).count() == 5


def test_bad_requests_are_refused_before_a_job_exists(export: Path) -> None:
    with pytest.raises(EvaluationError, match="no test split"):
        start_evaluation(export_value=str(export), split="test", backend=Backend.HF, model_name="x")
    with pytest.raises(EvaluationError, match="for: viquae"):
        start_evaluation(export_value=str(export), tasks=["viquae"], backend=Backend.HF, model_name="x")
    with pytest.raises(EvaluationError, match="not a folder"):
        start_evaluation(export_value="/nonexistent/export", backend=Backend.HF, model_name="x")
    with pytest.raises(EvaluationError, match="needs --run"):
        start_evaluation(export_value=str(export))
    assert not Evaluation.objects.exists() and not Job.objects.exists()


def endpoint_reply(body: dict[str, Any]) -> str:
    parts = body["messages"][-1]["content"]
    images = [p for p in parts if p["type"] == "image_url"]
    return f"I see {len(images)} picture(s): a cat.\nAnything else?"


@pytest.fixture
def llm(settings) -> Iterator[FakeLLM]:
    with FakeLLM(responder=endpoint_reply) as server:
        settings.OPENAI_API_KEY = "test-key"
        settings.OPENAI_BASE_URL = server.base_url
        settings.PARAPHRASE_MAX_ATTEMPTS = 2
        settings.PARAPHRASE_BACKOFF_BASE_SECONDS = 0.01
        settings.PARAPHRASE_REQUESTS_PER_MINUTE = 0
        settings.PARAPHRASE_TOKENS_PER_MINUTE = 0
        yield server


def test_endpoint_backend_sends_images_as_data_urls(export: Path, llm: FakeLLM) -> None:
    evaluation = start_evaluation(export_value=str(export), backend=Backend.ENDPOINT, model_name="served-vlm")
    assert evaluation.job.queue == "llm"
    assert run_job(evaluation.job_id, evaluate.body) == JobStatus.SUCCEEDED
    assert len(llm.bodies) == 5
    assert {b["model"] for b in llm.bodies} == {"served-vlm"} and all(b["temperature"] == 0 for b in llm.bodies)
    video = next(b for b in llm.bodies if "What happens?" in b["messages"][-1]["content"][0]["text"])
    parts = video["messages"][-1]["content"]
    assert parts[0] == {"type": "text", "text": "Watch.\nWhat happens?"}
    urls = [p["image_url"]["url"] for p in parts[1:]]
    assert len(urls) == 8 and all(u.startswith("data:image/png;base64,iVBOR") for u in urls)
    predictions = {p.task: p.prediction for p in Prediction.objects.filter(evaluation=evaluation)}
    assert predictions["msvd-qa"] == "I see 8 picture(s): a cat."  # cut at the first newline
    assert predictions["okvqa"] == "I see 1 picture(s): a cat."
    evaluation.refresh_from_db()
    # i see 1 picture s a cat (7) vs a cat (2): LCS 2 -> P = 2/7, R = 1 -> F = (4/7) / (9/7) = 4/9
    assert evaluation.results["tasks"]["okvqa"]["rouge_l"] == pytest.approx(4 / 9)
    assert evaluation.results["endpoint_failed"] == 0 and evaluation.results["endpoint_tokens_in"] > 0


def test_a_training_run_is_evaluated_at_its_checkpoint(eval_export: Path, settings, tmp_path: Path) -> None:
    from training import runs
    from training.evaluation.checkpoints import run_backend
    from training.evaluation.records import read_items
    from training.tasks import train_model

    settings.TRAINING_ROOT = tmp_path / "training"
    settings.JOB_PROGRESS_MIN_INTERVAL = 0
    run = runs.start_run(None, str(eval_export), "tiny", {"optim": {"max_steps": 4}, "run": {"checkpoint_every": 2}})
    assert run_job(run.job_id, train_model.body) == JobStatus.SUCCEEDED

    with pytest.raises(EvaluationError, match=r"no checkpoint at step 3 \(it has: 2, 4\)"):
        start_evaluation(export_value=str(eval_export), run_id=run.pk, checkpoint=3)
    with pytest.raises(EvaluationError, match="no training run #999"):
        start_evaluation(export_value=str(eval_export), run_id=999)

    evaluation = start_evaluation(
        export_value=str(eval_export), run_id=run.pk, checkpoint=2, options={"batch_size": 4, "max_new_tokens": 5}
    )
    assert evaluation.name == f"run {run.pk} @ 2"
    assert run_job(evaluation.job_id, evaluate.body) == JobStatus.SUCCEEDED
    evaluation.refresh_from_db()
    assert set(evaluation.results["tasks"]) == {"caps", "colours", "clips"}
    assert evaluation.results["groups"].keys() == {"captioning", "vqa", "video"}
    assert Prediction.objects.filter(evaluation=evaluation).count() == 9

    # the run's model: training's prompt tokens, 8 frames of a video as 8 placeholder blocks, and
    # batching changes no answer (left padding)
    backend = run_backend(run, 4, max_new_tokens=5)
    items = [item for _, item in read_items(eval_export, "val", ["colours", "clips"])]
    batch = backend.encode(items)
    frames = [8 if item.task == "clips" else 1 for item in items]
    assert sorted(frames) == [1, 1, 1, 8, 8, 8] and batch["frame_counts"].tolist() == frames
    assert (batch["input_ids"] == backend.model.image_token_id).sum(dim=1).tolist() == [4 * f for f in frames]
    assert backend(items) == [backend([item])[0] for item in items]
