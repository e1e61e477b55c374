"""Assigning a task's writer and reviewer: writer != reviewer at model, database, form, web and API level."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from annotator.forms import TaskAssignForm
from annotator.models import Task
from tests.factories import AnnotatorFactory, ReviewerFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def both() -> object:
    """One person who is annotator and reviewer at once: the case the rule is about."""
    user = AnnotatorFactory()
    user.groups.add(Group.objects.get_or_create(name="reviewer")[0])
    return user


def test_model_refuses_same_writer_and_reviewer(both):
    task = TaskFactory()
    task.writer = task.reviewer = both
    with pytest.raises(ValidationError) as caught:
        task.save()
    assert "reviewer" in caught.value.message_dict
    task.refresh_from_db()
    assert task.writer is None and task.reviewer is None


def test_database_constraint_refuses_it_even_past_save(both):
    task = TaskFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.filter(pk=task.pk).update(writer=both, reviewer=both)
    task.refresh_from_db()
    assert task.writer_id is None


def test_model_accepts_distinct_people_and_empty_slots(both):
    task = TaskFactory(writer=both)
    assert task.reviewer is None
    task.reviewer = ReviewerFactory()
    task.save()
    task.refresh_from_db()
    assert (task.writer, task.reviewer.username.startswith("reviewer")) == (both, True)


def test_form_shows_the_rule_on_the_reviewer_field(both):
    task = TaskFactory()
    form = TaskAssignForm({"writer": both.pk, "reviewer": both.pk}, instance=task)
    assert not form.is_valid()
    assert "must not be the person who writes" in form.errors["reviewer"][0]


def test_form_offers_only_people_of_the_right_role(both):
    plain = UserFactory()
    reviewer = ReviewerFactory()
    form = TaskAssignForm(instance=TaskFactory())
    assert set(form.fields["writer"].queryset) == {both}
    assert set(form.fields["reviewer"].queryset) == {both, reviewer}
    bad = TaskAssignForm({"writer": reviewer.pk, "reviewer": plain.pk}, instance=TaskFactory())
    assert not bad.is_valid()
    assert set(bad.errors) == {"writer", "reviewer"}


def test_admin_assigns_from_the_task_page(client, admin_user, both):
    reviewer = ReviewerFactory()
    task = TaskFactory()
    client.force_login(admin_user)
    page = client.get(reverse("task-detail", args=[task.slug]))
    assert b'id="assign"' in page.content
    response = client.post(reverse("task-assign", args=[task.slug]), {"writer": both.pk, "reviewer": reviewer.pk})
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.writer, task.reviewer) == (both, reviewer)


def test_web_refusal_keeps_the_previous_assignment_and_says_why(client, admin_user, both):
    writer, reviewer = AnnotatorFactory(), ReviewerFactory()
    task = TaskFactory(writer=writer, reviewer=reviewer)
    client.force_login(admin_user)
    response = client.post(reverse("task-assign", args=[task.slug]), {"writer": both.pk, "reviewer": both.pk})
    assert response.status_code == 400
    assert "must not be the person who writes" in response.content.decode()
    task.refresh_from_db()
    assert (task.writer, task.reviewer) == (writer, reviewer)


def test_non_admins_do_not_see_the_form(client, both):
    task = TaskFactory(writer=both)
    client.force_login(both)
    assert b'id="assign"' not in client.get(reverse("task-detail", args=[task.slug])).content


def test_api_patch_refuses_the_writer_as_reviewer(client, admin_user, both):
    task = TaskFactory(writer=both)
    client.force_login(admin_user)
    url = reverse("api-task-detail", args=[task.slug])
    response = client.patch(url, {"reviewer": both.username}, content_type="application/json")
    assert response.status_code == 400
    assert "reviewer" in response.json()
    task.refresh_from_db()
    assert task.reviewer is None

    reviewer = ReviewerFactory()
    response = client.patch(url, {"reviewer": reviewer.username}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["reviewer"] == reviewer.username
    task.refresh_from_db()
    assert task.reviewer == reviewer


def test_api_patch_refuses_people_without_the_role(client, admin_user):
    task = TaskFactory()
    client.force_login(admin_user)
    plain = UserFactory()
    response = client.patch(
        reverse("api-task-detail", args=[task.slug]), {"writer": plain.username}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "writer" in response.json()


def test_tasks_page_links_admins_to_the_assignment_form(client, admin_user, both):
    TaskFactory(slug="gqa")
    TaskFactory(slug="coco", writer=both, reviewer=ReviewerFactory())
    client.force_login(admin_user)
    html = client.get(reverse("task-list")).content.decode()
    assert '<a class="muted small" href="/tasks/gqa/#assign">assign</a>' in html
    assert '<a class="muted small" href="/tasks/coco/#assign">change</a>' in html
    client.force_login(both)
    assert "#assign" not in client.get(reverse("task-list")).content.decode()
