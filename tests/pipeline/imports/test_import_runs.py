"""Idempotent re-imports, resuming from the last committed batch, and the import Job (eager and real worker)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import transaction

from pipeline.imports.importer import start_import
from pipeline.models import Image, Job, JobStatus, Sample, SampleImage
from pipeline.samples import counts
from tests.conftest import wait_for
from tests.factories import AdminFactory
from tests.pipeline.imports.files import importer_for, vqa_annotation, write_vqa


def write_synthetic_vqa(folder: Path, count: int, images: int = 5) -> None:
    questions = [{"image_id": i % images, "question": f"Question {i}?", "question_id": i} for i in range(count)]
    annotations = [vqa_annotation(i, i % images, [f"answer {i}"] * 10) for i in range(count)]
    write_vqa(folder, questions, annotations, image_ids=range(images))


@pytest.mark.django_db
def test_reimport_skips_what_exists(import_root, tasks):
    write_synthetic_vqa(import_root / "vqa", 7)
    first = importer_for("vqa-v2", "vqa-v2", "train", "vqa", batch_size=3).run()
    second = importer_for("vqa-v2", "vqa-v2", "train", "vqa", batch_size=3).run()
    assert (first.created, first.skipped) == (7, 0)
    assert (second.created, second.skipped) == (0, 7)
    assert Sample.objects.filter(task__slug="vqa-v2", split="train").count() == 7
    assert SampleImage.objects.count() == 7 and Image.objects.count() == 5
    # The same source ids in another split are other samples.
    assert importer_for("vqa-v2", "vqa-v2", "val", "vqa").run().created == 7


@pytest.mark.django_db
def test_repeated_source_id_in_a_file_counts_as_duplicate(import_root, tasks):
    write_vqa(
        import_root / "vqa",
        [
            {"image_id": 1, "question": "Q?", "question_id": 5},
            {"image_id": 1, "question": "Q again?", "question_id": 6},
        ],
        [vqa_annotation(5, 1, ["a"]), vqa_annotation(6, 1, ["b"])],
        image_ids=[1],
    )
    # Rewrite question 6 as a second question 5 in both files: the first one wins.
    for name in ("questions.json", "annotations.json"):
        path = import_root / "vqa" / name
        path.write_text(path.read_text().replace('"question_id": 6', '"question_id": 5'))
    outcome = importer_for("vqa-v2", "vqa-v2", "train", "vqa").run()
    assert (outcome.created, outcome.skipped) == (1, 1)
    assert Sample.objects.get().inputs == "Q?"


@pytest.mark.django_db(transaction=True)
def test_interrupted_import_resumes_from_last_committed_batch(import_root, tasks, monkeypatch):
    write_synthetic_vqa(import_root / "vqa", 7)

    def stop_after_second(number: int) -> None:
        if number == 2:
            raise RuntimeError("worker lost")

    crashed = importer_for("vqa-v2", "vqa-v2", "train", "vqa", batch_size=2)
    crashed.after_batch = stop_after_second
    with pytest.raises(RuntimeError):
        crashed.run()
    assert Sample.objects.count() == 4  # batches 1 and 2 committed

    # A batch that fails half-way leaves nothing of itself behind.
    from pipeline.imports import importer as importing

    calls = {"n": 0}
    real = importing.insert_rows

    def failing_insert(objs):
        if objs and isinstance(objs[0], SampleImage):
            calls["n"] += 1
            if calls["n"] == 2:  # the second batch of this run: its samples are inserted, then this fails
                raise RuntimeError("disk full")
        return real(objs)

    monkeypatch.setattr(importing, "insert_rows", failing_insert)
    with pytest.raises(RuntimeError, match="disk full"):
        importer_for("vqa-v2", "vqa-v2", "train", "vqa", batch_size=2).run()
    # Run 2: batches 1-2 skipped (they exist), batch 3 written, batch 4 (one row) failed and rolled back.
    assert Sample.objects.count() == 6
    assert SampleImage.objects.count() == 6
    monkeypatch.undo()

    resumed = importer_for("vqa-v2", "vqa-v2", "train", "vqa", batch_size=2).run()
    assert (resumed.created, resumed.skipped) == (1, 6)
    assert sorted(int(s) for s in Sample.objects.values_list("source_id", flat=True)) == list(range(7))
    assert all(link.position == 0 for link in SampleImage.objects.all()) and SampleImage.objects.count() == 7


@pytest.mark.django_db
def test_import_job_records_counts(import_root, tasks, eager_jobs):
    write_synthetic_vqa(import_root / "vqa", 4)
    admin = AdminFactory()
    params = {"adapter": "vqa-v2", "task": "vqa-v2", "split": "train", "folder": "vqa"}
    with eager_jobs():
        job = start_import(params, admin)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.result["created"], job.result["skipped"], job.result["rejected"]) == (4, 0, 0)
    assert job.counters == {"created": 4, "skipped": 0, "rejected": 0}
    assert (job.done, job.total, job.task.slug, job.created_by) == (4, 4, "vqa-v2", admin)
    assert set(Sample.objects.values_list("import_job", flat=True)) == {job.pk}


@pytest.mark.django_db
def test_import_job_with_rejected_rows_fails_and_lists_them(import_root, tasks, eager_jobs):
    write_synthetic_vqa(import_root / "vqa", 3)
    (import_root / "vqa" / "images" / "COCO_val2014_000000000001.jpg").write_bytes(b"not an image")
    with eager_jobs():
        job = start_import({"adapter": "vqa-v2", "task": "vqa-v2", "split": "val", "folder": "vqa"}, AdminFactory())
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("ImportRejected: 1 of 3 rows rejected (allowed: 0); nothing was imported.")
    assert job.message.startswith("Failed: ImportRejected: 1 of 3 rows rejected")
    assert job.result["first_rejected"][0]["line"] == 2  # question 1 uses image 1
    assert job.result["report"] == f"imports/reports/job-{job.pk}-rejected.csv"
    assert Sample.objects.count() == 0


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_five_thousand_records_through_a_real_worker(import_root, tasks, celery_worker_factory):
    count = 5000
    write_synthetic_vqa(import_root / "big", count, images=50)
    celery_worker_factory(IMPORT_ROOT=str(import_root))
    with transaction.atomic():
        job = start_import(
            {"adapter": "vqa-v2", "task": "vqa-v2", "split": "train", "folder": "big", "batch_size": 1000},
            AdminFactory(),
        )
    wait_for(lambda: Job.objects.get(pk=job.pk).is_terminal, timeout=240, what="the import job to end")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.result["records"], job.result["created"], job.result["rejected"]) == (count, count, 0)
    assert (job.done, job.total) == (count, count)
    assert Sample.objects.filter(task__slug="vqa-v2", split="train").count() == count
    assert Image.objects.count() == 50
    sample = Sample.objects.get(source_id="4321")
    assert (sample.inputs, sample.outputs, sample.images.get().sha256) == (
        "Question 4321?",
        "answer 4321",
        Sample.objects.get(source_id="21").images.get().sha256,  # 4321 % 50 == 21 % 50
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_killed_worker_import_resumes_on_a_new_worker(import_root, tasks, celery_worker_factory, settings):
    count = 10_000
    settings.JOB_STALE_AFTER_SECONDS = 3
    write_synthetic_vqa(import_root / "big", count, images=20)
    first = celery_worker_factory(IMPORT_ROOT=str(import_root), JOB_STALE_AFTER_SECONDS="3")
    with transaction.atomic():
        job = start_import(
            {"adapter": "vqa-v2", "task": "vqa-v2", "split": "train", "folder": "big", "batch_size": 250},
            AdminFactory(),
        )
    wait_for(
        lambda: Sample.objects.filter(task__slug="vqa-v2").count() >= 1000,
        timeout=120,
        interval=0.05,
        what="some committed batches",
    )
    first.kill()
    committed = Sample.objects.count()
    assert committed < count and committed % 250 == 0  # whole batches only
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING

    import time

    time.sleep(3.5)  # the heartbeat goes stale; the next worker takes the job over
    celery_worker_factory(IMPORT_ROOT=str(import_root), JOB_STALE_AFTER_SECONDS="3")
    wait_for(lambda: Job.objects.get(pk=job.pk).is_terminal, timeout=240, what="the resumed import to end")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.attempts == 2
    assert Sample.objects.count() == count == len(set(Sample.objects.values_list("source_id", flat=True)))
    assert job.result["skipped"] >= committed and job.result["created"] + job.result["skipped"] == count
    assert counts.stored() == counts.counted()  # the killed worker's last batch left no count behind


class RecordingProgress:
    def __init__(self) -> None:
        self.updates: list[dict] = []

    def update(self, done=None, total=None, message=None, force=False, **counters):
        self.updates.append({"done": done, "total": total, "message": message, **counters})


@pytest.mark.django_db
def test_check_pass_estimates_the_row_count_from_the_bytes_read(import_root, tasks):
    import base64
    import json

    from tests.pipeline.imports.files import image_bytes

    image = base64.b64encode(image_bytes((5, 5, 5))).decode()
    lines = [
        json.dumps(
            {
                "instruction": "",
                "inputs": "q",
                "outputs": f"a{i:04d}",
                "image_base64_str": [image],
                "meta": {"source_id": f"{i:04d}"},
            }
        )
        for i in range(1000)
    ]  # every line the same length, so the estimate is exact
    (import_root / "m").mkdir()
    (import_root / "m" / "train.jsonl").write_text("\n".join(lines) + "\n")
    progress = RecordingProgress()
    importer = importer_for("m3it-jsonl", "okvqa", "train", "m")
    importer.progress = progress
    importer.run()
    checking = [u for u in progress.updates if (u["message"] or "").startswith("Checking:")]
    assert [u["done"] for u in checking] == [200, 400, 600, 800, 1000]
    assert all(u["total"] == 1000 for u in checking)
    writing = [u for u in progress.updates if (u["message"] or "").startswith("Importing")]
    assert writing[-1]["done"] == 1000 and writing[-1]["created"] == 1000


@pytest.mark.django_db
def test_queries_per_batch_not_per_row(import_root, tasks):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from annotator.models import Task
    from tests.factories import InstructionFactory

    task = Task.objects.get(slug="vqa-v2")
    for _ in range(3):
        InstructionFactory(task=task)
    write_synthetic_vqa(import_root / "q", 300, images=4)
    with CaptureQueriesContext(connection) as queries:
        outcome = importer_for("vqa-v2", "vqa-v2", "train", "q", batch_size=100).run()
    assert outcome.created == 300
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum('FROM "annotator_instruction"' in q for q in sql) == 1  # the pool, once per import
    assert sum(q.startswith('SELECT "pipeline_sample"."source_id"') for q in sql) == 3  # existing ids, per batch
    assert sum('INTO "pipeline_image"' in q for q in sql) == 1  # the four images, in the first batch
    assert len(sql) < 45  # 300 rows: a query per row would be hundreds (3 batches: split locks, counters)
    assert all(s.instruction_id for s in Sample.objects.all())


@pytest.mark.django_db
def test_new_samples_in_an_approved_or_in_review_split_reopen_it_for_review(import_root, tasks):
    from annotator.models import QCStatus, TaskSplit

    write_synthetic_vqa(import_root / "vqa", 4)
    importer_for("vqa-v2", "vqa-v2", "train", "vqa").run()
    split = TaskSplit.objects.get(task__slug="vqa-v2", split="train")
    TaskSplit.objects.filter(pk=split.pk).update(qc_status=QCStatus.APPROVED, approved_by=AdminFactory())

    # Re-importing the same rows adds nothing: the approval stands.
    importer_for("vqa-v2", "vqa-v2", "train", "vqa").run()
    split.refresh_from_db()
    assert split.qc_status == QCStatus.APPROVED

    # New rows were never reviewed: the split goes back to review, with the reason.
    write_synthetic_vqa(import_root / "vqa", 6)
    assert importer_for("vqa-v2", "vqa-v2", "train", "vqa").run().created == 2
    split.refresh_from_db()
    assert (split.qc_status, split.approved_by, split.approved_at) == (QCStatus.PENDING, None, None)
    assert "added samples since QC saw it" in split.qc_notes

    # A split being reviewed goes back too: the open review never saw the new rows.
    TaskSplit.objects.filter(pk=split.pk).update(qc_status=QCStatus.IN_REVIEW, qc_notes="")
    write_synthetic_vqa(import_root / "vqa", 7)
    assert importer_for("vqa-v2", "vqa-v2", "train", "vqa").run().created == 1
    split.refresh_from_db()
    assert split.qc_status == QCStatus.PENDING and "added samples since QC saw it" in split.qc_notes
