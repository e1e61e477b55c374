"""The instruction API follows the same rules as the web page."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotator.models import InstructionEvent, PoolStatus
from tests.factories import AnnotatorFactory, InstructionFactory, TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(annotator, reviewer):
    return TaskFactory(writer=annotator, reviewer=reviewer)


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_writer_builds_a_pool_through_the_api(task, annotator):
    client = api(annotator)
    ids = []
    for n in range(10):
        response = client.post(
            "/api/instructions/", {"task": task.slug, "text": f"Instruction {n}: look."}, format="json"
        )
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    assert response.json()["position"] == 9 and response.json()["author"] == annotator.username

    response = client.post(f"/api/pools/{task.slug}/reorder/", {"order": list(reversed(ids))}, format="json")
    assert [i["id"] for i in response.json()["instructions"]] == list(reversed(ids))

    response = client.post(f"/api/pools/{task.slug}/submit/")
    assert response.status_code == 200 and response.json()["pool_status"] == PoolStatus.SUBMITTED


def test_duplicate_and_too_few_are_400_with_the_message(task, annotator):
    client = api(annotator)
    client.post("/api/instructions/", {"task": task.slug, "text": "Describe the image."}, format="json")
    response = client.post("/api/instructions/", {"task": task.slug, "text": "DESCRIBE the image."}, format="json")
    assert response.status_code == 400
    assert "already in the pool as #1" in response.json()["detail"]
    response = client.post(f"/api/pools/{task.slug}/submit/")
    assert response.status_code == 400
    assert "at least 10" in response.json()["detail"]


def test_locked_pool_refuses_edits_via_the_api(task, annotator):
    instruction = InstructionFactory(task=task, text="Describe the image.")
    task.pool_status = PoolStatus.SUBMITTED
    task.save()
    client = api(annotator)
    response = client.patch(f"/api/instructions/{instruction.pk}/", {"text": "Changed."}, format="json")
    assert response.status_code == 409
    assert "locked" in response.json()["detail"]
    assert client.delete(f"/api/instructions/{instruction.pk}/").status_code == 409
    response = client.post("/api/instructions/", {"task": task.slug, "text": "More."}, format="json")
    assert response.status_code == 409
    instruction.refresh_from_db()
    assert instruction.text == "Describe the image."


def test_reviewer_and_admin_read_but_do_not_edit(task, reviewer, admin_user):
    instruction = InstructionFactory(task=task, text="Describe the image.")
    for user in (reviewer, admin_user):
        client = api(user)
        assert client.get(f"/api/pools/{task.slug}/").json()["instructions"][0]["text"] == "Describe the image."
        response = client.patch(f"/api/instructions/{instruction.pk}/", {"text": "Mine."}, format="json")
        assert response.status_code == 403
        assert "Only the annotator who writes" in response.json()["detail"]
    instruction.refresh_from_db()
    assert instruction.text == "Describe the image."


def test_other_annotator_gets_404_and_sees_nothing(task):
    instruction = InstructionFactory(task=task, text="Describe the image.")
    mine = TaskFactory(writer=AnnotatorFactory())
    InstructionFactory(task=mine, text="My own.")
    client = api(mine.writer)
    assert client.get(f"/api/instructions/{instruction.pk}/").status_code == 404
    assert client.patch(f"/api/instructions/{instruction.pk}/", {"text": "X"}, format="json").status_code == 404
    assert client.delete(f"/api/instructions/{instruction.pk}/").status_code == 404
    assert client.post("/api/instructions/", {"task": task.slug, "text": "X"}, format="json").status_code == 404
    assert client.get(f"/api/pools/{task.slug}/").status_code == 404
    listed = [i["text"] for i in client.get("/api/instructions/").json()["results"]]
    assert listed == ["My own."]


def test_admin_returns_unlocks_and_imports_through_the_api(task, annotator, admin_user):
    for n in range(10):
        InstructionFactory(task=task, text=f"Instruction {n}.", position=n)
    api(annotator).post(f"/api/pools/{task.slug}/submit/")
    client = api(admin_user)
    response = client.post(f"/api/pools/{task.slug}/return/", {"comment": "Vary the wording."}, format="json")
    assert response.json()["pool_status"] == PoolStatus.RETURNED
    assert response.json()["return_comment"] == "Vary the wording."

    response = client.put(f"/api/pools/{task.slug}/instructions-json/", {"not": "a list"}, format="json")
    assert response.status_code == 400 and "JSON list of strings" in response.json()["detail"]
    response = client.put(f"/api/pools/{task.slug}/instructions-json/", ["Describe.", "Caption it."], format="json")
    assert [i["text"] for i in response.json()["instructions"]] == ["Describe.", "Caption it."]
    assert client.get(f"/api/pools/{task.slug}/instructions-json/").json() == ["Describe.", "Caption it."]
    assert InstructionEvent.objects.filter(task=task, action="import", actor=admin_user).count() == 1
