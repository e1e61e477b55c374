"""Production settings, API docs served offline, token authentication."""

from __future__ import annotations

import io
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.factories import AnnotatorFactory, TaskFactory

ROOT = Path(__file__).resolve().parent.parent
# Variables of the developer's or CI's environment that would change what the subprocess sees.
SCRUBBED = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "M3IT_VAR_DIR",
    "DJANGO_ALLOW_ASYNC_UNSAFE",  # set by the browser tests in this process
)


def _manage(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    clean.update(M3IT_VAR_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_variables(tmp_path):
    done = _manage(
        ["check", "--deploy", "--fail-level", "WARNING"],
        tmp_path,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="studio.example.org",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_refuses_to_start_without_secret_key_outside_debug(tmp_path):
    done = _manage(["check"], tmp_path, DEBUG="false", SECRET_KEY="")
    assert done.returncode != 0
    assert "SECRET_KEY must be set in the environment when DEBUG is off." in done.stderr
    # In debug a per-checkout key is generated under the var dir instead.
    assert _manage(["check"], tmp_path, DEBUG="true", SECRET_KEY="").returncode == 0
    assert len((tmp_path / "dev-secret-key").read_text()) >= 50


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["api-docs", "api-redoc"])
def test_api_docs_pages_load_only_local_assets(client, name):
    client.force_login(AnnotatorFactory())  # the docs need a login outside DEBUG
    html = client.get(reverse(name)).content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html[:500]
    assert all(a.startswith("/static/drf_spectacular_sidecar/") for a in assets), assets
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert len(body) > 100, asset


@pytest.mark.django_db
def test_schema_describes_the_api_and_token_auth(client):
    client.force_login(AnnotatorFactory())
    schema = client.get(reverse("api-schema"), HTTP_ACCEPT="application/json").json()
    assert {"/api/tasks/", "/api/tasks/{slug}/", "/api/jobs/{id}/", "/api/jobs/{id}/cancel/"} <= set(schema["paths"])
    assert "tokenAuth" in schema["components"]["securitySchemes"]


@pytest.mark.django_db
def test_token_from_the_management_command_authenticates_api_calls():
    user = AnnotatorFactory()
    TaskFactory(slug="shapes")
    out = io.StringIO()
    call_command("drf_create_token", user.username, stdout=out)
    token = re.search(r"Generated token (\w+) for user", out.getvalue()).group(1)

    api = Client()  # no session: the token alone
    ok = api.get(reverse("api-task-list"), HTTP_AUTHORIZATION=f"Token {token}")
    assert ok.status_code == 200
    assert [t["slug"] for t in ok.json()["results"]] == ["shapes"]
    assert api.get(reverse("api-task-list"), HTTP_AUTHORIZATION="Token not-a-token").status_code == 401
    assert api.get(reverse("api-task-list")).status_code == 403
    # Read-only for a non-admin, even with a valid token.
    patch = api.patch(
        reverse("api-task-detail", args=["shapes"]),
        '{"writer": null}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )
    assert patch.status_code == 403


@pytest.mark.django_db
def test_api_index_lists_every_apps_endpoints(client):
    client.force_login(AnnotatorFactory())
    index = client.get("/api/").json()
    assert {"tasks", "instructions", "jobs", "samples", "qc/reviews"} <= set(index)
    assert index["jobs"] == "http://testserver/api/jobs/"
