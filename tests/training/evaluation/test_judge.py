"""The pairwise judge against the tests' OpenAI-compatible server: both orders, six scores, bad replies."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.jobs.runner import run_job
from pipeline.models import JobStatus
from tests.pipeline.fake_llm import FakeLLM
from training.evaluation.judge import parse_scores, start_judge
from training.models import Backend, Evaluation, JudgeCache, JudgeRecord, Prediction, Verdict
from training.tasks import judge as judge_task

pytestmark = pytest.mark.django_db

ANSWER = re.compile(r"\[The Start of Assistant (\d)'s Answer\]\n(.*?)\n\[The End", re.S)
QUALITY = {"good": 8, "fine": 6, "poor": 3, "same": 5}


def judge_reply(body: dict[str, Any]) -> str | None:
    """Scores from the words in each answer (good 8, fine 6, poor 3, anything else 5)."""
    text = body["messages"][-1]["content"]
    if "[Question]" not in text:
        return None
    answers = dict(ANSWER.findall(text))
    if "[malformed-always]" in text:
        return "Both answers are fine, I suppose."
    scores = [next((v for k, v in QUALITY.items() if k in answers[n]), 5) for n in ("1", "2")]
    if "[position-bias]" in text:
        scores[0] += 2  # this judge likes whatever it reads first: both orders cancel it out
    return (
        "Evaluation evidence: compared with the reference.\n"
        f"The score of Assistant 1: {scores[0]}\nThe score of Assistant 2: {scores[1]}"
    )


class Flaky:
    """The first reply to a '[malformed-once]' question has no scores; later ones are fine."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, body: dict[str, Any]) -> str | None:
        text = body["messages"][-1]["content"]
        if "[malformed-once]" in text and text not in self.seen:
            self.seen.add(text)
            return "Evaluation evidence: hmm.\nThe score of Assistant 1: 12\nThe score of Assistant 2:"
        return judge_reply(body)


@pytest.fixture
def llm(settings) -> Iterator[FakeLLM]:
    with FakeLLM(responder=Flaky()) as server:
        settings.OPENAI_API_KEY = "test-key"
        settings.OPENAI_BASE_URL = server.base_url
        settings.JUDGE_MODEL = "fake-judge"
        settings.PARAPHRASE_TIMEOUT_SECONDS = 2
        settings.PARAPHRASE_MAX_ATTEMPTS = 2
        settings.PARAPHRASE_BACKOFF_BASE_SECONDS = 0.01
        settings.PARAPHRASE_BACKOFF_MAX_SECONDS = 0.05
        settings.PARAPHRASE_REQUESTS_PER_MINUTE = 0
        settings.PARAPHRASE_TOKENS_PER_MINUTE = 0
        settings.JUDGE_PARSE_RETRIES = 1
        settings.JOB_PROGRESS_MIN_INTERVAL = 0
        yield server


def evaluation(name: str, answers: dict[str, str]) -> Evaluation:
    ev = Evaluation.objects.create(name=name, backend=Backend.ENDPOINT, model_name=name, export_path="/x")
    Prediction.objects.bulk_create(
        Prediction(
            evaluation=ev,
            task="okvqa",
            split="val",
            record_id=rid,
            prompt=f"<human>: Answer.\n{rid}?\n<bot>: ",
            prediction=text,
            reference="a cat",
            rouge_l=0.0,
        )
        for rid, text in answers.items()
    )
    return ev


def test_parse_scores() -> None:
    assert parse_scores("Evaluation evidence: ok\nThe score of Assistant 1: 7\nThe score of Assistant 2: 4") == (7, 4)
    assert parse_scores("**The score of Assistant 1:** 8/10\nThe score of assistant 2: 9.5") == (8, 9.5)
    assert parse_scores("The score of Assistant 1: 0\nThe score of Assistant 2: 4") is None  # out of range
    assert parse_scores("The score of Assistant 1: 6") is None  # one missing
    assert parse_scores("Assistant 1 is better.") is None


def test_both_orders_six_scores_ties_and_bad_replies(llm: FakeLLM) -> None:
    a = evaluation(
        "ours",
        {
            "r1": "good answer",
            "r2": "poor answer",
            "r3": "same",
            "r4 [position-bias]": "fine",
            "r5 [malformed-once]": "good",
            "r6 [malformed-always]": "good",
        },
    )
    b = evaluation(
        "theirs",
        {
            "r1": "fine answer",
            "r2": "good answer",
            "r3": "same",
            "r4 [position-bias]": "fine",
            "r5 [malformed-once]": "poor",
            "r6 [malformed-always]": "poor",
            "only-b": "good",
        },
    )
    comparison = start_judge(a, b)
    assert comparison.estimate["records"] == 6 and comparison.estimate["requests"] == 36
    assert comparison.estimate["cost_usd"] > 0
    assert run_job(comparison.job_id, judge_task.body) == JobStatus.SUCCEEDED
    comparison.refresh_from_db()
    records = {r.record_id: r for r in JudgeRecord.objects.filter(comparison=comparison)}
    assert set(records) == {"r1", "r2", "r3", "r4 [position-bias]", "r5 [malformed-once]", "r6 [malformed-always]"}

    # both orders were sent, three samples each: Assistant 1 was A's answer in one and B's in the other
    r1_bodies = [b["messages"][-1]["content"] for b in llm.bodies if "\nr1?" in b["messages"][-1]["content"]]
    assert len(r1_bodies) == 6
    firsts = [dict(ANSWER.findall(t))["1"] for t in r1_bodies]
    assert sorted(firsts) == ["fine answer"] * 3 + ["good answer"] * 3
    assert all(b["temperature"] == 1.0 and b["model"] == "fake-judge" for b in llm.bodies)

    assert (records["r1"].score_a, records["r1"].score_b, records["r1"].verdict) == (8, 6, Verdict.WIN)
    assert records["r2"].verdict == Verdict.LOSS
    assert records["r3"].verdict == Verdict.TIE
    # a judge that adds 2 to whichever answer it reads first: (7+5)/2 for each side -> a tie, not a win
    r4 = records["r4 [position-bias]"]
    assert (r4.score_a, r4.score_b, r4.verdict) == (7, 7, Verdict.TIE)
    assert len([s for s in r4.samples if s["scores"]]) == 6
    # the first reply per order was unusable: asked again, then all six samples valid
    r5 = records["r5 [malformed-once]"]
    assert r5.verdict == Verdict.WIN and all(s["scores"] for s in r5.samples)
    assert sorted(s["attempts"] for s in r5.samples) == [1, 1, 1, 1, 2, 2]
    # never usable: every sample dropped after one retry, the record undecided
    r6 = records["r6 [malformed-always]"]
    assert r6.verdict == Verdict.UNDECIDED and r6.score_a is None and all(s["scores"] is None for s in r6.samples)

    counts = comparison.counts
    assert (counts["wins"], counts["ties"], counts["losses"], counts["undecided"]) == (2, 2, 1, 1)
    assert counts["win_rate"] == 40.0
    assert counts["requests"]["dropped"] == 6
    assert counts["requests"]["retried"] == 6 + 2  # r6's six, and r5's first reply in each order
    assert comparison.spent_usd > 0

    # a rerun of the same comparison pays nothing: every valid reply comes from the cache
    sent = len(llm.bodies)
    again = start_judge(a, b)
    assert again.estimate["cached"] == 30 and again.estimate["to_send"] == 6  # r6 was never cached
    # r3 and r4 show the same answer on both sides: both orders are the same request, one cache row per sample
    assert JudgeCache.objects.count() == 30 - 6
    run_job(again.job_id, judge_task.body)
    again.refresh_from_db()
    assert again.counts["wins"] == 2 and len(llm.bodies) - sent == 12  # only r6's samples, asked twice each


def test_budget_stops_before_it_is_passed(llm: FakeLLM, settings) -> None:
    a = evaluation("ours", {f"r{i}": "good" for i in range(30)})
    b = evaluation("theirs", {f"r{i}": "poor" for i in range(30)})
    comparison = start_judge(a, b, budget_usd=0.0)
    run_job(comparison.job_id, judge_task.body)
    comparison.refresh_from_db()
    assert comparison.counts["left_over_budget"] == 30 and not llm.bodies and comparison.spent_usd == 0
