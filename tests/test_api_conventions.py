"""API and page conventions (issue 15, item 19): 401 for a wrong token, 403 for anonymous callers of
admin-only endpoints, the /api/ index, newest-first imports, 400 for a malformed cursor or a NUL in a
filter, the review-start request bodies in the schema, and JSON (not Python reprs) on the pages."""

from __future__ import annotations

import base64

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from pipeline.models import Job, JobKind
from tests.factories import AdminFactory, SampleFactory

pytestmark = pytest.mark.django_db


def test_wrong_token_is_401_with_www_authenticate_and_anonymous_stays_403():
    api = Client()
    wrong = api.get("/api/tasks/", HTTP_AUTHORIZATION="Token not-a-token")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"] == "Token"
    anonymous = api.get("/api/tasks/")
    assert anonymous.status_code == 403 and "WWW-Authenticate" not in anonymous
    token = Token.objects.create(user=AdminFactory())
    assert api.get("/api/imports/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200


@pytest.mark.parametrize("url", ["/api/imports/", "/api/samples/", "/api/exports/", "/api/imports/adapters/"])
def test_admin_only_endpoints_answer_anonymous_403_as_documented(url):
    assert Client().get(url).status_code == 403


def test_api_index_lists_paraphrase(client):
    client.force_login(AdminFactory())
    index = client.get("/api/").json()
    assert index["paraphrase"] == "http://testserver/api/paraphrase/"


def test_imports_api_lists_newest_first_like_the_web(client):
    jobs = [
        Job.objects.create(kind=JobKind.IMPORT, task_name="pipeline.imports.tasks.import_source", params={"n": n})
        for n in range(3)
    ]
    client.force_login(AdminFactory())
    listed = [row["id"] for row in client.get("/api/imports/").json()["results"]]
    assert listed == [job.pk for job in reversed(jobs)]


def test_malformed_cursor_or_nul_in_a_filter_is_400_not_500(client):
    SampleFactory()
    client.force_login(AdminFactory())
    assert client.get("/api/samples/", {"cursor": "garbage!"}).status_code == 400
    not_a_number = base64.b64encode(b"p=abc").decode()
    response = client.get("/api/samples/", {"cursor": not_a_number})
    assert response.status_code == 400 and "cursor" in response.json()
    assert client.get("/api/samples/?task=%00").status_code == 400
    assert client.get("/api/jobs/?status=a%00b").status_code == 400
    assert client.get("/samples/?task=%00").status_code == 400


def test_schema_has_the_review_start_request_bodies(client):
    client.force_login(AdminFactory())
    schema = client.get("/api/schema/", {"format": "json"}).json()

    def body(path: str) -> set[str]:
        ref = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return set(schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"])

    assert body("/api/qc/reviews/") == {"task_split"}
    assert body("/api/qc/reviews/second/") == {"task_split", "reviewer"}


def test_pages_show_meta_and_job_parameters_as_json(client):
    sample = SampleFactory(meta={"source_id": "q1", "answers": ["a", "b"], "ok": True, "none": None})
    job = Job.objects.create(
        kind=JobKind.IMPORT, task_name="pipeline.imports.tasks.import_source", params={"files": {}, "trusted": False}
    )
    client.force_login(AdminFactory())
    page = client.get(reverse("sample-detail", args=[sample.pk])).content.decode()
    assert "&quot;ok&quot;: true" in page and "&quot;none&quot;: null" in page and "True" not in page
    page = client.get(reverse("job-detail", args=[job.pk])).content.decode()
    assert "&quot;trusted&quot;: false" in page and "&#x27;files&#x27;" not in page
