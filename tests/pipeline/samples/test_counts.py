"""The sample counters on TaskSplit equal a recount from the rows after every kind of write.

Imports (first run, rerun, a batch that fails half-way, a cancelled run), demo samples, paraphrase
runs (with a QC correction and a retry of request failures), QC decisions and corrections, admin
deletes. Killed workers are covered in the worker tests of imports and paraphrase, which check the
same equality at the end.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from annotator.models import TaskSplit
from pipeline.jobs.runner import JobCancelled, start_job
from pipeline.models import JobKind, ParaphraseState, Sample, SampleImage, SampleQCState
from pipeline.paraphrase.runner import start_paraphrase
from pipeline.samples import counts
from qc import review
from qc.models import Verdict
from tests.factories import AdminFactory, SampleFactory, TaskFactory
from tests.pipeline.fake_llm import FakeLLM
from tests.pipeline.imports.conftest import import_root, tasks  # noqa: F401 - fixtures
from tests.pipeline.imports.files import importer_for
from tests.pipeline.imports.test_import_runs import write_synthetic_vqa
from tests.qc.conftest import make_split

pytestmark = pytest.mark.django_db


def assert_counters_match() -> None:
    assert counts.stored() == counts.counted()


def split_of(slug: str, split: str = "train") -> TaskSplit:
    return TaskSplit.objects.get(task__slug=slug, split=split)


def test_fields_of_a_sample():
    assert counts.fields_of("pending", "corrected") == [
        "sample_count", "paraphrase_pending", "qc_corrected", "pending_corrected"
    ]  # fmt: skip
    assert counts.fields_of("accepted", "unchecked") == ["sample_count", "paraphrase_accepted", "qc_unchecked"]
    assert set(TaskSplit.COUNTERS) >= {f"paraphrase_{s}" for s in ParaphraseState.values}
    assert set(TaskSplit.COUNTERS) >= {f"qc_{s}" for s in SampleQCState.values}


def test_imports_reruns_failed_batches_and_cancel_keep_counters(import_root, tasks, monkeypatch):  # noqa: F811
    write_synthetic_vqa(import_root / "vqa", 7)
    importer_for("vqa-v2", "vqa-v2", "train", "vqa", batch_size=3).run()
    assert split_of("vqa-v2").sample_count == 7
    assert split_of("vqa-v2").paraphrase_pending + split_of("vqa-v2").paraphrase_not_needed == 7
    assert_counters_match()

    importer_for("vqa-v2", "vqa-v2", "train", "vqa", batch_size=3).run()  # a rerun skips everything
    assert split_of("vqa-v2").sample_count == 7
    assert_counters_match()

    # A batch that fails after its samples were inserted rolls back its counts with them.
    from pipeline.imports import importer as importing

    real = importing.insert_rows

    def failing_insert(objs):
        if objs and isinstance(objs[0], SampleImage):
            raise RuntimeError("disk full")
        return real(objs)

    monkeypatch.setattr(importing, "insert_rows", failing_insert)
    with pytest.raises(RuntimeError):
        importer_for("vqa-v2", "vqa-v2", "val", "vqa", batch_size=3).run()
    assert split_of("vqa-v2", "val").sample_count == 0 == Sample.objects.filter(split="val").count()
    assert_counters_match()
    monkeypatch.setattr(importing, "insert_rows", real)

    # Cancelled after its second batch (the job's progress write raises JobCancelled): what committed counts.
    class CancelAfterTwo:
        def __init__(self) -> None:
            self.batches = 0

        def update(self, *args, message=None, **kwargs):
            if message and message.startswith("Importing: batch"):
                self.batches += 1
                if self.batches == 2:
                    raise JobCancelled("cancelled")

    cancelled = importer_for("vqa-v2", "vqa-v2", "val", "vqa", batch_size=2)
    cancelled.progress = CancelAfterTwo()
    with pytest.raises(JobCancelled):
        cancelled.run()
    assert split_of("vqa-v2", "val").sample_count == 4 == Sample.objects.filter(split="val").count()
    assert_counters_match()


def test_demo_samples_are_counted(eager_jobs):
    task = TaskFactory(slug="demo-count")
    with eager_jobs():
        start_job(JobKind.DEMO, "pipeline.demo.tasks.build_demo_dataset", params={"task": task.slug, "count": 5})
    assert split_of("demo-count").sample_count == 5
    assert_counters_match()


def test_paraphrase_runs_keep_counters(settings, eager_jobs):
    task = TaskFactory(slug="vqa-counted")
    rows = [("What is it?", "kite"), ("[500-always] What bus?", "bus"), ("How many?", "2"), ("What is that?", "cup")]
    samples = counts.insert_samples([
        Sample(task=task, split="train", source_id=f"s{i}", inputs=q, outputs=a, original_output=a,
               paraphrase_state=ParaphraseState.PENDING)
        for i, (q, a) in enumerate(rows)
    ])  # fmt: skip
    counts.set_states(Sample.objects.filter(pk=samples[3].pk), qc_state=SampleQCState.CORRECTED)
    train = split_of("vqa-counted")
    assert (train.paraphrase_pending, train.pending_corrected, train.paraphrase_waiting) == (4, 1, 3)
    with FakeLLM(retry_after=0.05) as server:
        settings.OPENAI_API_KEY = "test-key"
        settings.OPENAI_BASE_URL = server.base_url
        settings.PARAPHRASE_MODEL = "fake-model"
        settings.PARAPHRASE_MAX_ATTEMPTS = 2
        settings.PARAPHRASE_BACKOFF_BASE_SECONDS = 0.01
        settings.PARAPHRASE_REQUESTS_PER_MINUTE = 0
        settings.PARAPHRASE_TOKENS_PER_MINUTE = 0
        settings.PARAPHRASE_CHUNK_SIZE = 2
        with eager_jobs():
            start_paraphrase([train], AdminFactory())
        train.refresh_from_db()
        assert (train.paraphrase_pending, train.paraphrase_accepted, train.paraphrase_fallback) == (1, 2, 1)
        assert_counters_match()
        with eager_jobs():  # the request failure goes back to pending, then falls back again
            start_paraphrase([train], AdminFactory(), retry_request_failures=True)
        assert_counters_match()


def test_qc_decisions_and_corrections_keep_counters():
    s = make_split(12)
    assert s.split.sample_count == 12 and s.split.qc_unchecked == 12
    rev = review.start_review(s.split, s.reviewer)
    items = list(rev.items.order_by("position"))
    review.decide(items[0], s.reviewer, Verdict.APPROVED)
    review.decide(items[1], s.reviewer, Verdict.REJECTED, problems=["outputs"], comment="The answer is wrong.")
    review.decide(items[1], s.reviewer, Verdict.APPROVED)  # changed their mind
    review.correct(items[2], s.reviewer, outputs="The square is red.")
    s.split.refresh_from_db()
    assert (s.split.qc_approved, s.split.qc_rejected, s.split.qc_corrected) == (2, 0, 1)
    assert_counters_match()


def test_deletes_through_the_admin_keep_counters(client):
    task = TaskFactory(slug="to-delete")
    samples = [SampleFactory(task=task, split="val") for _ in range(4)]
    admin = AdminFactory()
    client.force_login(admin)
    url = reverse("admin:pipeline_sample_changelist")
    response = client.post(url, {"action": "delete_selected", "_selected_action": [samples[0].pk, samples[1].pk],
                                 "post": "yes"})  # fmt: skip
    assert response.status_code == 302
    client.post(reverse("admin:pipeline_sample_delete", args=[samples[2].pk]), {"post": "yes"})
    assert split_of("to-delete", "val").sample_count == 1 == Sample.objects.filter(task=task).count()
    assert_counters_match()
    counts.delete_samples(Sample.objects.filter(task=task))
    assert split_of("to-delete", "val").sample_count == 0
    assert_counters_match()


def test_recount_rebuilds_counters_that_drifted(capsys):
    task = TaskFactory(slug="drifted")
    for _ in range(3):
        SampleFactory(task=task)
    TaskSplit.objects.filter(task=task, split="train").update(sample_count=99, qc_unchecked=0)
    call_command("recount")
    assert split_of("drifted").sample_count == 3
    assert_counters_match()
    assert "1 of" in capsys.readouterr().out


def test_an_import_that_grows_a_table_a_lot_analyzes_it_on_postgresql(import_root, tasks):  # noqa: F811
    from django.db import connection

    write_synthetic_vqa(import_root / "vqa", 5)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # statistics of an empty table, whatever earlier tests left there
            cursor.execute("ANALYZE pipeline_sample")
            cursor.execute("ANALYZE pipeline_sampleimage")
    outcome = importer_for("vqa-v2", "vqa-v2", "train", "vqa").run()
    if connection.vendor != "postgresql":
        assert outcome.analyzed == []  # nothing to do: SQLite plans without these statistics
        return
    assert set(outcome.analyzed) >= {"pipeline_sample", "pipeline_sampleimage"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'pipeline_sample'")
        assert cursor.fetchone()[0] == 5  # the planner knows the rows the import added
    # A rerun adds nothing: no ANALYZE.
    assert importer_for("vqa-v2", "vqa-v2", "train", "vqa").run().analyzed == []
