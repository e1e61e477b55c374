"""Only group members are offered and saved as writer/reviewer everywhere (task page, Django admin, API),
and a refusal names the missing role (issue 15, item 15)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator.models import Task
from tests.factories import AnnotatorFactory, ReviewerFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_django_admin_change_form_offers_only_members_and_refuses_others_by_role(admin_client):
    annotator, reviewer, plain = AnnotatorFactory(), ReviewerFactory(), UserFactory(username="plain-user")
    task = TaskFactory()
    url = reverse("admin:annotator_task_change", args=[task.pk])
    page = admin_client.get(url)
    writer_choices = {str(u) for u in page.context["adminform"].form.fields["writer"].queryset}
    assert annotator.username in writer_choices and plain.username not in writer_choices
    assert reviewer.username not in writer_choices
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, list | dict)}
    data.update(
        {
            "writer": plain.pk,
            "reviewer": annotator.pk,
            "splits-TOTAL_FORMS": 0,
            "splits-INITIAL_FORMS": 0,
            "held_in": "on" if task.held_in else "",
        }
    )
    response = admin_client.post(url, data)
    assert response.status_code == 200  # the form again, with the errors
    errors = response.context["adminform"].form.errors
    assert "not in the annotator group" in " ".join(errors["writer"])
    assert "not in the reviewer group" in " ".join(errors["reviewer"])
    task.refresh_from_db()
    assert task.writer is None and task.reviewer is None


def test_model_clean_names_the_missing_role():
    task = TaskFactory()
    task.writer = ReviewerFactory(username="rita")
    with pytest.raises(Exception) as exc:
        task.full_clean()
    assert "rita is not in the annotator group" in str(exc.value)


def test_api_refusal_names_the_missing_role_not_does_not_exist(client, admin_user):
    task = TaskFactory()
    client.force_login(admin_user)
    url = reverse("api-task-detail", args=[task.slug])
    plain = UserFactory(username="paul")
    response = client.patch(url, {"reviewer": plain.username}, content_type="application/json")
    assert response.status_code == 400
    message = " ".join(response.json()["reviewer"])
    assert "paul is not in the reviewer group" in message and "does not exist" not in message
    response = client.patch(url, {"writer": "nobody-like-this"}, content_type="application/json")
    assert "There is no user named 'nobody-like-this'" in " ".join(response.json()["writer"])


def test_task_page_keeps_an_assignment_made_before_the_person_left_the_group(client, admin_user):
    writer = AnnotatorFactory(username="wanda")
    task = TaskFactory(writer=writer, reviewer=ReviewerFactory())
    writer.groups.clear()
    client.force_login(admin_user)
    page = client.get(reverse("task-detail", args=[task.slug]))
    form = page.context["assign_form"]
    assert form["writer"].value() == writer.pk and writer in form.fields["writer"].queryset  # not "— nobody —"
    assert "wanda is not in the annotator group" in page.content.decode()
    # saving the form unchanged keeps the writer rather than clearing it
    client.post(reverse("task-assign", args=[task.slug]), {"writer": writer.pk, "reviewer": task.reviewer_id})
    assert Task.objects.get(pk=task.pk).writer == writer
