"""`manage.py seed_demo`: users per role with printed passwords, the registry, demo samples by a job."""

from __future__ import annotations

import io
import json
import stat

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client, RequestFactory

from annotator import roles
from annotator.models import Task
from pipeline.models import Job, JobStatus, Sample

pytestmark = pytest.mark.django_db(transaction=True)


def _seed(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_seed_demo_builds_the_demo_project_and_follows_its_jobs(eager_jobs, settings, tmp_path):
    settings.VAR_DIR = tmp_path  # the logins file of the developer's checkout stays untouched
    out, err = _seed("--wait")

    logins = json.loads((tmp_path / "demo-logins.json").read_text())
    assert set(logins) == {"admin", "annotator", "annotator2", "reviewer"}
    assert stat.S_IMODE((tmp_path / "demo-logins.json").stat().st_mode) == 0o600
    for username, password in logins.items():
        assert f"{username:<11} {password}" in out
        assert Client().login(request=RequestFactory().post("/login/"), username=username, password=password), username
    User = get_user_model()
    assert roles.roles_of(User.objects.get(username="admin")) == ["admin"]
    assert roles.roles_of(User.objects.get(username="reviewer")) == ["reviewer"]
    assert roles.roles_of(User.objects.get(username="annotator2")) == ["annotator"]

    assert Task.objects.count() == 40
    shapes = Task.objects.get(slug="shapes")
    assert (shapes.writer.username, shapes.reviewer.username, shapes.instructions.count()) == (
        "annotator",
        "reviewer",
        10,
    )
    assert Task.objects.get(slug="okvqa").writer.username == "annotator2"

    # The three demo jobs ran (in-process here) and the command drew their bars on stderr.
    jobs = list(Job.objects.order_by("id"))
    assert [job.status for job in jobs] == [JobStatus.SUCCEEDED] * 3
    assert [(j.params["task"], j.params["split"], j.done, j.total) for j in jobs] == [
        ("shapes", "train", 40, 40),
        ("shapes", "val", 20, 20),
        ("coco", "val", 20, 20),
    ]
    assert Sample.objects.filter(task__slug="shapes", split="train").count() == 40
    assert Sample.objects.filter(task__slug="coco", split="val", instruction__isnull=False).count() == 20
    assert f"job #{jobs[0].pk} demo: 100%|##########| 40/40 [" in err and "succeeded: 40 samples created]" in err
    assert f"job #{jobs[2].pk} demo: 100%|##########| 20/20 [" in err and "succeeded: 20 samples created]" in err
    assert "3 demo jobs finished." in out
    # Train and val of the shapes task hold different pictures: a demo model is not tested on its training data.
    train_images = set(
        Sample.objects.filter(task__slug="shapes", split="train").values_list("images__sha256", flat=True)
    )
    val_images = set(Sample.objects.filter(task__slug="shapes", split="val").values_list("images__sha256", flat=True))
    assert len(train_images) > 10 and len(val_images) > 5
    assert len(train_images & val_images) < min(len(train_images), len(val_images)) / 2

    # Idempotent: a second run keeps the passwords and queues nothing.
    out_again, _ = _seed()
    assert json.loads((tmp_path / "demo-logins.json").read_text()) == logins
    assert "Demo jobs queued" not in out_again
    assert Job.objects.count() == 3 and Sample.objects.count() == 80
    assert User.objects.count() == 4
