"""`manage.py import_source`: imports from any folder on the server with a progress bar, as a Job."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from pipeline.models import Job, JobKind, JobStatus, Sample
from tests.pipeline.imports.files import vqa_annotation, write_vqa

pytestmark = pytest.mark.django_db


def _vqa_folder(tmp_path, count: int = 3):
    folder = tmp_path / "on-disk"
    write_vqa(
        folder,
        [{"image_id": 2, "question": f"Q{i}?", "question_id": i} for i in range(count)],
        [vqa_annotation(i, 2, [f"a{i}"]) for i in range(count)],
        image_ids=[2],
    )
    return folder


def test_command_imports_with_a_progress_bar_and_records_a_job(tmp_path, tasks):
    folder = _vqa_folder(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    call_command("import_source", "vqa-v2", task="vqa-v2", split="val", folder=str(folder), stdout=out, stderr=err)
    job = Job.objects.get()
    assert (job.kind, job.status, job.params["trusted_folder"]) == (JobKind.IMPORT, JobStatus.SUCCEEDED, True)
    assert f"Import job #{job.pk}: 3 created, 0 skipped as duplicates, 0 rejected, 1 new images" in out.getvalue()
    assert "3/3" in err.getvalue()  # tqdm's bar reached the end
    assert sorted(Sample.objects.values_list("outputs", flat=True)) == ["a0", "a1", "a2"]

    out = io.StringIO()
    call_command("import_source", "vqa-v2", task="vqa-v2", split="val", folder=str(folder), stdout=out, stderr=err)
    assert "0 created, 3 skipped as duplicates" in out.getvalue()


def test_command_reports_bad_input_and_writes_nothing(tmp_path, tasks):
    folder = _vqa_folder(tmp_path)
    with pytest.raises(CommandError, match="unknown adapter 'vqa-v3'"):
        call_command("import_source", "vqa-v3", task="vqa-v2", split="val", folder=str(folder))
    (folder / "images" / "COCO_val2014_000000000002.jpg").write_bytes(b"GIF89a broken")
    with pytest.raises(CommandError, match=r"failed: ImportRejected: 3 of 3 rows rejected \(allowed: 0\)"):
        call_command("import_source", "vqa-v2", task="vqa-v2", split="val", folder=str(folder), stderr=io.StringIO())
    assert Sample.objects.count() == 0


def test_command_lists_adapters():
    out = io.StringIO()
    call_command("import_source", "--list", stdout=out)
    assert "--file questions=<json>  default 'questions.json'" in out.getvalue()
    assert "video-qa: Video QA (MSRVTT-QA style)" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_command_can_queue_the_import_and_follow_it(tasks, import_root):
    from config.celery import app as celery_app

    folder = import_root / "queued"
    write_vqa(
        folder,
        [{"image_id": 4, "question": "Q?", "question_id": 1}],
        [vqa_annotation(1, 4, ["yes"])],
        image_ids=[4],
    )
    out, err = io.StringIO(), io.StringIO()
    celery_app.conf.task_always_eager = True  # the "worker" runs it as soon as it is queued
    try:
        call_command(
            "import_source",
            "vqa-v2",
            task="vqa-v2",
            split="train",
            folder=str(folder),
            queue=True,
            stdout=out,
            stderr=err,
        )
    finally:
        celery_app.conf.task_always_eager = False
    job = Job.objects.get()
    assert f"Import job #{job.pk} queued" in out.getvalue()
    assert job.status == JobStatus.SUCCEEDED and Sample.objects.get().outputs == "yes"
