"""`make run` (DEBUG on) shows styled 404/500 pages, never the URL list, settings or credentials
(issue 15, item 20); error reports mask the password of any URL."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory, override_settings
from django.urls import path
from django.views.debug import ExceptionReporter

from config.error_pages import MaskingExceptionReporterFilter, mask_url
from config.urls import urlpatterns as project_urls
from tests.factories import AnnotatorFactory

pytestmark = pytest.mark.django_db


def boom(request):
    raise RuntimeError("kaputt")


urlpatterns = [*project_urls, path("boom/", boom)]


@override_settings(DEBUG=True, DEBUG_TECHNICAL_ERRORS=False)
def test_debug_404_is_the_styled_not_found_or_not_yours_page(client):
    client.force_login(AnnotatorFactory())
    for url in ("/no-such-page/", "/qc/reviews/999999/", "/imports/"):  # unknown URL, someone else's, admin-only
        response = client.get(url)
        html = response.content.decode()
        assert response.status_code == 404, url
        assert "Not found, or not yours" in html and 'href="/"' in html and "Back home" in html
        assert "URLconf" not in html and "api/schema" not in html  # not Django's URL list
    api = client.get("/api/jobs/999999/")
    assert api.status_code == 404 and api["Content-Type"] == "application/json"


@override_settings(
    DEBUG=True,
    DEBUG_TECHNICAL_ERRORS=False,
    ROOT_URLCONF="tests.test_error_pages",
    CELERY_BROKER_URL="redis://:s3cret-broker@127.0.0.1:6379/0",
)
def test_debug_500_is_styled_and_shows_no_settings():
    client = Client(raise_request_exception=False)
    response = client.get("/boom/", DATABASE_URL="postgres://app:s3cret-db@db/m3it")
    html = response.content.decode()
    assert response.status_code == 500 and "Something went wrong on our side" in html
    assert "s3cret" not in html and "kaputt" not in html and "CELERY_BROKER_URL" not in html


@override_settings(
    DEBUG=True,
    DEBUG_TECHNICAL_ERRORS=True,
    CELERY_BROKER_URL="redis://:" + "s3" + "cret-broker@127.0.0.1:6379/0",  # split: the source shows in the report
    DEFAULT_EXCEPTION_REPORTER_FILTER="config.error_pages.MaskingExceptionReporterFilter",
)
def test_technical_error_report_masks_credentials_in_settings_and_environment():
    request = RequestFactory().get("/x/", DATABASE_URL="postgres://app:" + "s3" + "cret-db@db/m3it")
    try:
        raise RuntimeError("x")
    except RuntimeError as exc:
        html = ExceptionReporter(request, type(exc), exc, exc.__traceback__).get_traceback_html()
    assert ("s3" + "cret-") not in html
    assert "redis://:********@127.0.0.1:6379/0" in html and "postgres://app:********@db/m3it" in html
    assert isinstance(MaskingExceptionReporterFilter(), MaskingExceptionReporterFilter)


def test_mask_url():
    assert mask_url("postgres://u:p@h:5432/d") == "postgres://u:********@h:5432/d"
    assert mask_url("see redis://:tok@r/1 and http://x/y") == "see redis://:********@r/1 and http://x/y"
    assert mask_url("postgres://postgres@127.0.0.1/db") == "postgres://postgres@127.0.0.1/db"
