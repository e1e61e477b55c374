"""The translation job: recorded selection, chunks, dedup, cache, a killed chunk redone once, cancel, resume."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from pipeline.jobs.runner import run_job
from pipeline.models import Job, JobStatus, TranslatedInstruction, Translation, TranslationCache, TranslationSelection
from pipeline.translation import backends, runner
from pipeline.translation import plan as plans
from pipeline.translation.backends import base

from .data import POOL, translated_task
from .recording import Recording, WorkerKilled

pytestmark = pytest.mark.django_db


@pytest.fixture
def recording(tiny_settings, monkeypatch):
    """Every chunk's translator, recorded; `recording.fail_after_batches = n` kills the next chunk there."""
    real = backends.get_translator(backends.BackendConfig.from_settings(max_new_tokens=12))
    spy = Recording(real)
    monkeypatch.setattr(runner, "get_translator", lambda config: spy)
    return spy


def _run(eager_jobs, admin_user, **kwargs) -> Job:
    with eager_jobs():
        job = runner.start_translation(admin_user, **kwargs)
    job.refresh_from_db()
    return job


def test_the_plan_selects_up_to_the_limit_per_eval_split_seeded_and_recorded(tiny_settings, admin_user):
    task = translated_task(val=9, test=3)
    plan = plans.build_plan(None, ["fr", "vi"])
    by_split = {s.split: s for s in plan.splits}
    assert set(by_split) == {"val", "test"}  # evaluation splits only
    assert len(by_split["val"].sample_ids) == 6 and by_split["val"].split_size == 9
    assert by_split["test"].sample_ids == sorted(task.samples.filter(split="test").values_list("id", flat=True))
    assert plans.build_plan(None, ["fr"]).splits[0].sample_ids == by_split["val"].sample_ids  # seeded
    assert plans.build_plan(None, ["fr"], seed=99).splits[0].sample_ids != by_split["val"].sample_ids
    assert plan.samples == 9 and plan.translations == 18
    selected = [pk for s in plan.splits for pk in s.sample_ids]
    questions = set(task.samples.filter(id__in=selected).values_list("inputs", flat=True))
    assert plan.strings == len(POOL) + len(questions) + 3  # instructions, questions, 3 distinct answers
    assert plan.pieces_to_send == 2 * plan.pieces and plan.estimate_seconds is None
    plans.record_selections(plan, admin_user)
    row = TranslationSelection.objects.get(task=task, split="val")
    assert row.sample_ids == by_split["val"].sample_ids and row.seed == plan.seed and row.limit == 6
    task.samples.filter(split="val").exclude(id__in=row.sample_ids).delete()
    assert plans.build_plan(None, ["fr"], seed=5).splits[0].sample_ids == row.sample_ids  # recorded wins


def test_winoground_test_is_translated_whole(tiny_settings):
    translated_task(slug="winoground", val=0, test=8)
    plan = plans.build_plan(["winoground"], ["fr"], count=False)
    assert [(s.split, len(s.sample_ids), s.limit) for s in plan.splits] == [("test", 8, None)]


def test_a_run_translates_each_distinct_string_once_per_language_and_a_rerun_sends_nothing(
    recording, eager_jobs, admin_user
):
    task = translated_task()
    job = _run(eager_jobs, admin_user, language_codes=["fr", "vi"])
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert Translation.objects.count() == 18
    assert TranslatedInstruction.objects.filter(task=task).count() == 6
    for target in ("fra_Latn", "vie_Latn"):
        sent = [t for lang, batch in recording.batches if lang == target for t in batch]
        assert len(sent) == len(set(sent)), "a string was sent twice"
        assert set(POOL) <= set(sent)  # instructions once, from the pool; not once per sample
    assert job.counters["languages"] == {"fr": [12, 12], "vi": [12, 12]}  # 9 samples + 3 instructions each
    sample = Translation.objects.filter(language__code="fr").select_related("sample__instruction").first()
    pool_text = TranslatedInstruction.objects.get(instruction=sample.sample.instruction, language__code="fr").text
    assert sample.instruction == pool_text and sample.backend == "transformers" and sample.model

    first_sent = {t for lang, batch in recording.batches if lang == "fra_Latn" for t in batch}
    # The cache: translations gone, a new job rebuilds them without sending anything.
    Translation.objects.all().delete()
    TranslatedInstruction.objects.all().delete()
    recording.batches.clear()
    again = _run(eager_jobs, admin_user, language_codes=["fr", "vi"])
    assert again.status == JobStatus.SUCCEEDED and Translation.objects.count() == 18
    assert recording.batches == []
    assert again.result["sent"] == 0 and again.result["cached"] > 0
    assert TranslationCache.objects.filter(language="fra_Latn").count() == len(first_sent)


def test_a_chunk_killed_midway_is_redone_once_and_nothing_is_duplicated(recording, admin_user, monkeypatch):
    """The worker running the parent (and, inline, a chunk) dies in the chunk's second batch."""
    translated_task()
    monkeypatch.setattr(runner, "send_job", lambda job: None)  # no other worker: the parent runs every chunk
    parent = runner.start_translation(admin_user, language_codes=["fr"], config=None)
    recording.fail_after_batches = 2  # the pool chunk takes 1 batch, the first sample chunk 1: the next one dies
    with pytest.raises(WorkerKilled):
        run_job(parent.pk, runner.run_parent)
    parent.refresh_from_db()
    done_before = Translation.objects.count()
    killed = runner.chunks_of(parent).get(status=JobStatus.RUNNING)
    assert parent.status == JobStatus.RUNNING
    assert done_before == 3 and (killed.params["split"], killed.params["start"]) == ("val", 0)  # test/ went first
    Job.objects.filter(pk__in=[parent.pk, killed.pk]).update(heartbeat_at=timezone.now() - timedelta(hours=1))

    recording.fail_after_batches = None
    recording.batches.clear()
    assert run_job(parent.pk, runner.run_parent) == JobStatus.SUCCEEDED
    killed.refresh_from_db()
    assert killed.status == JobStatus.SUCCEEDED and killed.attempts == 2
    assert Translation.objects.count() == 9
    assert Translation.objects.values("sample", "language").distinct().count() == 9
    sent = recording.sent
    assert len(sent) == len(set(sent))
    assert not set(sent) & {t for _, batch in recording.batches[:0] for t in batch}
    assert Job.objects.get(pk=parent.pk).attempts == 2


def test_cancel_stops_at_a_chunk_boundary_and_resume_finishes(recording, eager_jobs, admin_user, monkeypatch):
    translated_task()
    real_chunk = runner.run_chunk
    calls = []

    def chunk_then_cancel(job, progress):
        result = real_chunk(job, progress)
        calls.append(job.pk)
        if job.params["phase"] == "samples":  # the admin cancels while the first sample chunk runs
            Job.objects.filter(pk=job.params["parent"]).update(cancel_requested=True)
        return result

    monkeypatch.setattr(runner, "run_chunk", chunk_then_cancel)
    job = _run(eager_jobs, admin_user, language_codes=["fr"])
    assert job.status == JobStatus.CANCELLED
    assert Translation.objects.count() == 3  # the running chunk (test/, 3 samples) finished and committed
    states = set(runner.chunks_of(job).values_list("status", flat=True))
    assert states == {JobStatus.SUCCEEDED, JobStatus.CANCELLED}

    monkeypatch.setattr(runner, "run_chunk", real_chunk)
    recording.batches.clear()
    with eager_jobs():
        resumed = runner.resume_translation(job, admin_user)
    resumed.refresh_from_db()
    assert resumed.status == JobStatus.SUCCEEDED and resumed.params["resume_of"] == job.pk
    assert Translation.objects.count() == 9
    assert not set(recording.sent) & set(POOL)  # the pool was done before the cancel


def test_bad_input_is_refused_before_any_work(tiny_settings, admin_user, plain_model_dir, tmp_path):
    translated_task()
    with pytest.raises(base.TranslationError, match="Unknown language code"):
        runner.start_translation(admin_user, language_codes=["fr", "xx"])
    tiny_settings.TRANSLATION_MODEL = str(plain_model_dir)
    with pytest.raises(base.MissingLanguageTokens):
        runner.start_translation(admin_user, language_codes=["fr"])
    tiny_settings.TRANSLATION_MODEL = str(tmp_path / "missing")
    with pytest.raises(base.ModelNotFound):
        runner.start_translation(admin_user, language_codes=["fr"])
    assert not Job.objects.exists() and not TranslationSelection.objects.exists()
