"""The interface language of each person: chosen in the header, stored on the user, used on every page.

A first visit follows the browser's Accept-Language (Django's LocaleMiddleware); a choice made with the
switcher is kept on the user (`UserSettings.language`) and in the language cookie, so it survives
logging out and in, and another browser. The stored choice is copied into the session at login, so no
page pays a query for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import translation

SESSION_KEY = "interface_language"


def supported(code: str | None) -> str | None:
    """The code if it is one of settings.LANGUAGES, else None."""
    return code if code in dict(settings.LANGUAGES) else None


def remember(request: HttpRequest, code: str) -> None:
    """Store a signed-in person's choice on the user and in the session."""
    from annotator.models import UserSettings

    if request.user.is_authenticated:
        UserSettings.objects.update_or_create(user=request.user, defaults={"language": code})
        request.session[SESSION_KEY] = code


@receiver(user_logged_in)
def _restore_on_login(sender: object, request: HttpRequest | None, user: Any, **kwargs: object) -> None:
    from annotator.models import UserSettings

    code = UserSettings.objects.filter(user=user).values_list("language", flat=True).first()
    if request is not None and supported(code):
        request.session[SESSION_KEY] = code


class UserLanguageMiddleware:
    """After authentication: a signed-in person's stored language replaces the browser's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        code = supported(request.session.get(SESSION_KEY)) if request.user.is_authenticated else None
        if code:
            translation.activate(code)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
