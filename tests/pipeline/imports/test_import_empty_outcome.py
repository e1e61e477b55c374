"""An import that creates nothing is a warning, not a green "succeeded 100 %", and says why (issue 15, item 14)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pipeline.imports.importer import start_import
from pipeline.models import JobStatus, Sample
from tests.factories import AdminFactory
from tests.pipeline.imports.files import vqa_annotation, write_json, write_vqa

pytestmark = pytest.mark.django_db


def _vqa(folder, count: int = 3) -> None:
    questions = [{"image_id": i, "question": f"Question {i}?", "question_id": i} for i in range(count)]
    write_vqa(folder, questions, [vqa_annotation(i, i, [f"answer {i}"] * 10) for i in range(count)], range(count))


def _run(params, eager_jobs):
    with eager_jobs():
        job = start_import(params, AdminFactory())
    job.refresh_from_db()
    return job


def test_wrong_file_mapped_is_a_warning_that_names_the_file(import_root, tasks, eager_jobs, client):
    _vqa(import_root / "vqa")
    write_json(import_root / "vqa" / "dataset_coco.json", {"images": [{"filename": "a.jpg", "sentences": []}]})
    params = {"adapter": "vqa-v2", "task": "vqa-v2", "split": "train", "folder": "vqa"}
    job = _run({**params, "files": {"questions": "dataset_coco.json", "annotations": "dataset_coco.json"}}, eager_jobs)
    assert job.status == JobStatus.SUCCEEDED and job.result["created"] == 0
    assert job.display_status == "warning"
    assert "no rows found in dataset_coco.json (the questions file)" in job.warning
    assert "is dataset_coco.json the questions file" in job.warning
    client.force_login(AdminFactory(is_superuser=True))
    page = client.get(reverse("import-detail", args=[job.pk])).content.decode()
    assert 'class="progress warning"' in page and "progress succeeded" not in page
    assert "is dataset_coco.json the questions file" in page
    api = client.get(reverse("api-job-detail", args=[job.pk])).json()
    assert api["display_status"] == "warning" and api["warning"] == job.warning


def test_all_rows_rejected_within_the_allowance_is_a_warning(import_root, tasks, eager_jobs):
    _vqa(import_root / "vqa", 2)
    for path in (import_root / "vqa" / "images").iterdir():
        path.write_bytes(b"not an image")
    job = _run(
        {"adapter": "vqa-v2", "task": "vqa-v2", "split": "train", "folder": "vqa", "max_rejected": 5}, eager_jobs
    )
    assert job.status == JobStatus.SUCCEEDED and job.result["rejected"] == 2
    assert job.display_status == "warning" and "all 2 rows were rejected" in job.warning


def test_reimport_of_what_exists_is_a_warning_and_a_real_import_stays_green(import_root, tasks, eager_jobs):
    _vqa(import_root / "vqa", 2)
    params = {"adapter": "vqa-v2", "task": "vqa-v2", "split": "train", "folder": "vqa"}
    first = _run(params, eager_jobs)
    assert first.display_status == "succeeded" and first.warning == "" and Sample.objects.count() == 2
    again = _run(params, eager_jobs)
    assert again.display_status == "warning" and "already in this split" in again.warning
