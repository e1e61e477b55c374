"""Exports on a real Celery worker: a killed worker leaves nothing visible, and the rerun finishes the same bytes."""

from __future__ import annotations

import time

import pytest

from pipeline.export import writer as exports
from pipeline.models import Export, Job, JobStatus
from tests.conftest import wait_for
from tests.factories import UserFactory
from tests.pipeline.export.export_data import build_small_dataset, files_under

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_killed_worker_leaves_no_partial_export_and_the_rerun_matches_a_clean_export(
    celery_worker_factory, settings, tmp_path
):
    settings.EXPORT_ROOT = tmp_path / "exports"
    settings.JOB_STALE_AFTER_SECONDS = 3
    build_small_dataset(samples_per_split=10)  # 29 records: alpha train 10, val 10; beta train 9
    admin = UserFactory(username="boss", is_staff=True)
    first = celery_worker_factory(JOB_STALE_AFTER_SECONDS="3")
    export = exports.start_export(admin, chunk_size=1, pause_per_chunk=0.1)

    def records() -> int:
        return (Job.objects.get(pk=export.job_id).counters or {}).get("records", 0)

    wait_for(lambda: records() >= 5, timeout=60, interval=0.05, what="some records written")
    first.kill()
    at_kill = records()
    assert Job.objects.get(pk=export.job_id).status == JobStatus.RUNNING and 5 <= at_kill < 29
    assert not exports.export_dir(export).exists()  # nothing visible under the export's name
    assert [p.name for p in exports.export_root().iterdir()] == [exports.PARTIAL_PREFIX + export.name]
    assert Export.objects.get(pk=export.pk).completed_at is None

    time.sleep(3.5)  # the heartbeat goes stale; the next worker takes the job over
    celery_worker_factory(JOB_STALE_AFTER_SECONDS="3")
    wait_for(lambda: Job.objects.get(pk=export.job_id).is_terminal, timeout=90, what="the export to finish")
    job = Job.objects.get(pk=export.job_id)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.attempts == 2 and job.result["records"] == 29
    assert job.result["resumed_records"] >= at_kill  # carried on from its checkpoints, not from zero
    assert not exports.partial_dir(export).exists()

    clean = exports.start_export(admin)
    wait_for(lambda: Job.objects.get(pk=clean.job_id).is_terminal, timeout=90, what="the clean export")
    clean.refresh_from_db()
    export.refresh_from_db()
    resumed, reference = files_under(exports.export_dir(export)), files_under(exports.export_dir(clean))
    assert resumed.keys() == reference.keys()
    for path in resumed:
        if path != "manifest.json":
            assert resumed[path] == reference[path], path
    assert export.digest == clean.digest
    assert exports.verify_export(export) == []
