"""API authentication: session (the browser) first, then tokens.

DRF answers a failed authentication with the first class's `WWW-Authenticate` header; session
authentication has none, so a wrong token would get 403. Here a request that sent a token gets
DRF's convention (401 with `WWW-Authenticate: Token`); anonymous requests keep 403.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import authentication as drf_spectacular_authentication
from rest_framework import authentication


class SessionAuthentication(authentication.SessionAuthentication):
    def authenticate_header(self, request: Any) -> str | None:
        if request.META.get("HTTP_AUTHORIZATION", "").split(" ", 1)[0].lower() == "token":
            return "Token"
        return None


class SessionScheme(drf_spectacular_authentication.SessionScheme):
    """The schema's cookieAuth for the class above (drf-spectacular matches the exact class)."""

    target_class = "annotator.authentication.SessionAuthentication"
