"""Celery task names moved with the restructure: stored jobs under the old names still resolve and run."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps

from pipeline.jobs.runner import job_task_named, send_job
from pipeline.models import Job, JobKind, JobStatus

pytestmark = pytest.mark.django_db

migration = import_module("pipeline.migrations.0003_job_task_names")


@pytest.mark.parametrize("old", sorted(migration.RENAMED))
def test_an_old_row_is_renamed_and_its_task_resolves(old):
    queued = Job.objects.create(kind=JobKind.DEMO, task_name=old, queue="default")
    finished = Job.objects.create(kind=JobKind.DEMO, task_name=old, queue="default", status=JobStatus.SUCCEEDED)
    with pytest.raises(ImportError):
        job_task_named(old)  # the old module is gone: an unmigrated row could not be sent

    migration.forwards(apps, None)

    for job in (queued, finished):
        job.refresh_from_db()
        assert job.task_name == migration.RENAMED[old]
        task = job_task_named(job.task_name)
        assert task.name == job.task_name and callable(task.body)


def test_backwards_restores_the_old_names():
    job = Job.objects.create(kind=JobKind.IMPORT, task_name="pipeline.imports.tasks.import_source", queue="default")
    migration.backwards(apps, None)
    job.refresh_from_db()
    assert job.task_name == "pipeline.tasks.import_source"


def test_a_renamed_queued_job_is_sent_under_its_new_name(monkeypatch):
    job = Job.objects.create(kind=JobKind.IMPORT, task_name="pipeline.tasks.import_source", queue="default")
    migration.forwards(apps, None)
    job.refresh_from_db()
    sent: list[tuple[str, list[int]]] = []
    task = job_task_named(job.task_name)
    monkeypatch.setattr(task, "apply_async", lambda args, **kw: sent.append((task.name, args)))
    send_job(job)
    assert sent == [("pipeline.imports.tasks.import_source", [job.pk])]


def test_a_name_that_is_not_a_job_task_is_refused():
    with pytest.raises(ValueError, match="not a job task"):
        job_task_named("pipeline.models.Job")
