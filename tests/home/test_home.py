"""The landing page: each role sees its own work, and only its own."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator.models import PoolStatus, QCStatus, TaskSplit
from pipeline.models import Job, JobKind, JobStatus
from tests.factories import (
    AdminFactory,
    AnnotatorFactory,
    InstructionFactory,
    ReviewerFactory,
    SampleFactory,
    TaskFactory,
)

pytestmark = pytest.mark.django_db


def _home(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    return response.content.decode()


def test_annotator_sees_own_tasks_with_counts_status_and_return_comment(client):
    me, someone_else = AnnotatorFactory(), AnnotatorFactory()
    returned = TaskFactory(slug="vqa-v2", writer=me, pool_status=PoolStatus.RETURNED, return_comment="Vary the verbs.")
    InstructionFactory.create_batch(7, task=returned)
    done = TaskFactory(slug="coco", writer=me, pool_status=PoolStatus.SUBMITTED)
    InstructionFactory.create_batch(10, task=done)
    TaskFactory(slug="okvqa", writer=someone_else)

    html = _home(client, me)
    assert "7/10 instructions" in html and "10/10 instructions" in html
    assert "Vary the verbs." in html and "Returned with comments" in html
    assert "okvqa" not in html
    assert html.index("vqa-v2") < html.index("coco")  # what needs work comes first
    assert 'id="admin-overview"' not in html and 'id="my-reviews"' not in html


def test_reviewer_sees_only_undecided_splits_with_samples_of_own_tasks(client):
    me, other_reviewer = ReviewerFactory(), ReviewerFactory()
    mine = TaskFactory(slug="shapes", reviewer=me)
    SampleFactory.create_batch(3, task=mine, split="train")
    SampleFactory.create_batch(2, task=mine, split="val")
    TaskSplit.objects.filter(task=mine, split="val").update(qc_status=QCStatus.APPROVED)
    theirs = TaskFactory(slug="gqa", reviewer=other_reviewer)
    SampleFactory(task=theirs, split="train")

    html = _home(client, me)
    section = html[html.index('id="my-reviews"') :]
    assert "shapes" in section and "gqa" not in section
    assert '<td class="num">3</td>' in section  # train: 3 samples waiting
    assert '<td class="num">2</td>' not in section  # val is approved
    assert "1 more split of your tasks has no samples yet." in section  # test; val is decided


def test_admin_sees_overview_and_live_bars_for_unfinished_jobs(client):
    admin = AdminFactory()
    TaskFactory(writer=AnnotatorFactory())
    TaskFactory()
    SampleFactory.create_batch(2)
    running = Job.objects.create(kind=JobKind.IMPORT, task_name="x.y", status=JobStatus.RUNNING, done=3, total=12)
    finished = Job.objects.create(kind=JobKind.DEMO, task_name="x.y", status=JobStatus.SUCCEEDED, done=4, total=4)

    html = _home(client, admin)
    overview = html[html.index('id="admin-overview"') :]
    # Tasks: the two made here plus the one of each sample (SampleFactory makes a task each).
    assert "<b>1<small>/4</small></b>tasks have a writer" in overview
    assert "<b>2</b>samples" in overview
    assert "<b>1</b>jobs queued or running" in overview
    assert f'data-job-url="{reverse("api-job-detail", args=[running.pk])}"' in overview
    assert f'data-job-url="{reverse("api-job-detail", args=[finished.pk])}"' not in overview
    assert f"#{finished.pk} Demo" in overview


def test_home_queries_do_not_grow_with_the_number_of_tasks(client):
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    everything, colleague = AdminFactory(), AnnotatorFactory()
    everything.groups.add(*[Group.objects.get_or_create(name=name)[0] for name in ("annotator", "reviewer")])
    colleague.groups.add(Group.objects.get(name="reviewer"))

    def add_work() -> None:
        for writer, reviewer in ((everything, colleague), (colleague, everything)):
            task = TaskFactory(writer=writer, reviewer=reviewer)
            InstructionFactory(task=task)
            SampleFactory(task=task)
            Job.objects.create(kind=JobKind.DEMO, task_name="x.y", task=task, created_by=everything)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            _home(client, everything)
        return len(queries)

    add_work()
    count_queries()  # warm up: the session and the user's groups
    few = count_queries()
    for _ in range(5):
        add_work()
    html = _home(client, everything)
    assert html.count("1/10 instructions") == 6 and html.count("Not reviewed") == 6
    assert count_queries() == few
