"""A cancelled import's page says what stayed; an admin deletes a split's or an import's samples as a Job,
with the counts and approvals updated (issue 15, item 12)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator.models import QCStatus, TaskSplit
from pipeline.models import Job, JobKind, JobStatus, Sample, SampleImage
from qc import review
from tests.factories import AdminFactory, SampleFactory, TaskFactory
from tests.qc.conftest import make_split

pytestmark = pytest.mark.django_db


def _import_job(task, status=JobStatus.CANCELLED) -> Job:
    return Job.objects.create(
        kind=JobKind.IMPORT,
        status=status,
        task=task,
        task_name="pipeline.imports.tasks.import_source",
        params={"task": task.slug, "split": "train", "adapter": "vqa-v2", "folder": "x", "files": {}},
    )


def test_cancelled_import_page_says_what_stayed_and_deletes_it_as_a_job(client, eager_jobs):
    task = TaskFactory()
    job = _import_job(task)
    kept_by_import = [SampleFactory(task=task, split="train", import_job=job) for _ in range(3)]
    other = SampleFactory(task=task, split="train")  # another import's sample stays
    client.force_login(AdminFactory())
    page = client.get(reverse("import-detail", args=[job.pk])).content.decode()
    assert "3 samples written before the import was cancelled stayed in" in page
    assert 'id="delete-import-samples"' in page

    with eager_jobs():
        response = client.post(reverse("sample-delete"), {"import_job": job.pk})
    deletion = Job.objects.get(kind=JobKind.DELETE)
    assert response.status_code == 302 and response["Location"] == reverse("job-detail", args=[deletion.pk])
    deletion.refresh_from_db()
    assert deletion.status == JobStatus.SUCCEEDED, deletion.error
    assert deletion.result["deleted"] == 3 and deletion.done == 3
    assert not Sample.objects.filter(pk__in=[s.pk for s in kept_by_import]).exists()
    assert not SampleImage.objects.filter(sample_id__in=[s.pk for s in kept_by_import]).exists()
    assert Sample.objects.filter(pk=other.pk).exists()
    page = client.get(reverse("import-detail", args=[job.pk])).content.decode()
    assert "Nothing of this import stayed" in page


def test_deleting_a_split_keeps_reviewed_samples_and_sends_the_approved_split_back(client, eager_jobs):
    s = make_split(12)
    rev = review.start_review(s.split, s.reviewer)
    for item in rev.items.all():
        review.decide(item, s.reviewer, "approved")
    s.split.refresh_from_db()
    assert s.split.qc_status == QCStatus.APPROVED
    client.force_login(AdminFactory())
    with eager_jobs():
        client.post(reverse("sample-delete"), {"task": s.task.slug, "split": "train"})
    job = Job.objects.get(kind=JobKind.DELETE)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result == {"deleted": 2, "kept_reviewed": 10, "splits": 1, "reopened": 1}
    assert set(Sample.objects.filter(task=s.task).values_list("id", flat=True)) == set(rev.sample_ids)
    split = TaskSplit.objects.get(pk=s.split.pk)
    assert split.qc_status == QCStatus.PENDING and "2 samples were deleted" in split.qc_notes


def test_nothing_to_delete_is_said_and_starts_no_job(client):
    task = TaskFactory()
    client.force_login(AdminFactory())
    response = client.post(reverse("sample-delete"), {"task": task.slug, "split": "val"}, follow=True)
    assert "There are no samples to delete" in response.content.decode()
    assert not Job.objects.filter(kind=JobKind.DELETE).exists()
    page = client.get(reverse("sample-list"), {"task": task.slug, "split": "train"}).content.decode()
    assert 'id="delete-samples"' in page
