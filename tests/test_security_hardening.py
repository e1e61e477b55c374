"""What attackers hit (issue 15, item 21): login lockout (django-axes), API throttles, the schema behind a
login, formula-safe CSV cells, and a pool's return comment only for those who may read the pool."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from annotator.models import PoolStatus
from pipeline.imports.adapters.base import Location, Rejected
from pipeline.imports.importer import RejectionReport
from tests.factories import AdminFactory, AnnotatorFactory, TaskFactory

pytestmark = pytest.mark.django_db


def _login(client: Client, url: str, username: str, password: str):
    return client.post(url, {"username": username, "password": password})


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_wrong_passwords_lock_the_account_out_even_for_the_right_password(url, settings):
    admin = AdminFactory(is_superuser=True)
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, url, admin.username, "wrong").status_code == 200  # the form again
    assert _login(client, url, admin.username, "wrong").status_code == 429  # the limit-th failure locks
    locked = _login(client, url, admin.username, "pw-for-tests")
    assert locked.status_code == 429 and b"Too many failed logins" in locked.content
    assert "_auth_user_id" not in client.session
    # someone else (another username) is not locked out by these failures
    other = AnnotatorFactory()
    assert _login(Client(), "/login/", other.username, "pw-for-tests").status_code == 302


def test_a_right_password_before_the_limit_resets_the_count(settings):
    user = AnnotatorFactory()
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "/login/", user.username, "wrong")
    assert _login(client, "/login/", user.username, "pw-for-tests").status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "/login/", user.username, "wrong")
    assert _login(client, "/login/", user.username, "pw-for-tests").status_code == 302


def test_api_throttles_signed_in_callers(monkeypatch, settings):
    assert "rest_framework.throttling.UserRateThrottle" in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "user": "5/minute"})
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "user": "5/minute"})
    cache.clear()
    try:
        signed_in = Client()
        signed_in.force_login(AnnotatorFactory())
        statuses = [signed_in.get("/api/tasks/").status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
    finally:
        cache.clear()


def test_schema_and_docs_need_a_login_outside_debug(client):
    for name in ("api-schema", "api-docs", "api-redoc"):
        assert Client().get(reverse(name)).status_code == 403
    client.force_login(AnnotatorFactory())
    assert client.get(reverse("api-schema")).status_code == 200


def test_rejected_rows_csv_escapes_formula_cells():
    report = RejectionReport()
    report.add(Rejected(Location("q.json", 1), "=1+1 is not an answer", source_id='=HYPERLINK("http://x","y")'))
    report.add(Rejected(Location("q.json", 2), "@SUM(A1)", source_id="+42"))
    report.add(Rejected(Location("q.json", 3), "plain", source_id="-7"))
    report.add(Rejected(Location("q.json", 4), "ok", source_id="q-4"))
    name = report.save("imports/reports/formula-test.csv")
    with default_storage.open(name) as handle:
        rows = list(csv.reader(io.TextIOWrapper(handle, encoding="utf-8")))
    assert [row[3] for row in rows[1:]] == ['\'=HYPERLINK("http://x","y")', "'+42", "'-7", "q-4"]
    assert [row[4] for row in rows[1:]] == ["'=1+1 is not an answer", "'@SUM(A1)", "plain", "ok"]
    assert rows[1][2] == "1"  # numbers stay numbers
    default_storage.delete(name)


def test_return_comment_is_shown_only_to_those_who_may_read_the_pool(client):
    writer = AnnotatorFactory()
    task = TaskFactory(writer=writer, pool_status=PoolStatus.RETURNED, return_comment="Vary the verbs, please.")
    client.force_login(AnnotatorFactory())  # another annotator: sees the task's facts, not its pool
    assert "Vary the verbs" not in client.get(reverse("task-detail", args=[task.slug])).content.decode()
    client.force_login(writer)
    assert "Vary the verbs" in client.get(reverse("task-detail", args=[task.slug])).content.decode()
