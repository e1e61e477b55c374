"""Error pages and error reports that never show credentials.

`make run` runs with DEBUG on; Django's debug 404 page lists every URL and its 500 page shows the settings
and environment (DATABASE_URL, CELERY_BROKER_URL with passwords). StyledErrorPagesMiddleware shows the
project's own 404/500 pages instead (DEBUG_TECHNICAL_ERRORS=true brings Django's back, still masked), and
MaskingExceptionReporterFilter masks the password of any URL in settings and request metadata, wherever
Django renders or mails an error report.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views.debug import SafeExceptionReporterFilter

logger = logging.getLogger("django.request")
URL_WITH_CREDENTIALS = re.compile(r"\b([a-z][a-z0-9+.-]*://)([^/\s:@]*)(?::([^/\s@]*))?@", re.IGNORECASE)
MASK = "********"


def mask_url(value: str) -> str:
    """`scheme://user:secret@host/...` → `scheme://user:********@host/...`, anywhere in `value`."""

    def replace(match: re.Match[str]) -> str:
        scheme, user, password = match.group(1), match.group(2), match.group(3)
        return match.group(0) if password is None else f"{scheme}{user}:{MASK}@"

    return URL_WITH_CREDENTIALS.sub(replace, value)


class MaskingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter (API|TOKEN|KEY|SECRET|PASS|SIGNATURE names hidden) plus masked URL credentials."""

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        value = super().cleanse_setting(key, value)
        return mask_url(value) if type(value) is str else value

    def get_traceback_frame_variables(self, request: HttpRequest, tb_frame: Any) -> Any:
        return [
            (name, mask_url(value) if type(value) is str else value)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]

    def get_safe_request_meta(self, request: HttpRequest) -> dict[str, Any]:
        meta = super().get_safe_request_meta(request)
        return {key: mask_url(value) if type(value) is str else value for key, value in meta.items()}


class StyledErrorPagesMiddleware:
    """With DEBUG on, the project's 404 and 500 pages instead of Django's technical ones (HTML only;
    the API keeps its JSON answers). Off when DEBUG_TECHNICAL_ERRORS is set."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def _active(self) -> bool:
        return settings.DEBUG and not getattr(settings, "DEBUG_TECHNICAL_ERRORS", False)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            self._active()
            and response.status_code == 404
            and response.get("Content-Type", "").startswith("text/html")
            and not getattr(response, "styled", False)
        ):
            return render_404(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not self._active() or isinstance(exception, Http404):
            return None  # Http404 becomes the technical 404 response, replaced in __call__
        logger.error("Internal Server Error: %s", request.path, exc_info=sys.exc_info())
        html = render_to_string("500.html", {"debug_hint": True})
        return HttpResponse(html, status=500)


def render_404(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(render_to_string("404.html", {}, request=request), status=404)
    response.styled = True
    return response
