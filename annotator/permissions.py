"""DRF permission classes and view mixins for the roles. Object access is scoped in querysets
(objects of other people are simply not found: 404, never 403 with a hint that they exist)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import AccessMixin
from django.http import Http404
from rest_framework.exceptions import NotFound
from rest_framework.permissions import SAFE_METHODS, BasePermission

from . import roles


class IsAdmin(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return roles.is_admin(request.user)


class IsAdminOrReadOnly(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return request.user.is_authenticated and (request.method in SAFE_METHODS or roles.is_admin(request.user))


class AdminRequiredMixin(AccessMixin):
    """Web views for admins only: anonymous users go to the login page, others get 404."""

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not roles.is_admin(request.user):
            raise Http404
        return super().dispatch(request, *args, **kwargs)


class IsAdminElse404(BasePermission):
    """API endpoints for admins only: anonymous callers get 403 like every API endpoint (not signed in);
    signed-in non-admins are told the URL does not exist (404)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if not request.user.is_authenticated:
            return False
        if not roles.is_admin(request.user):
            raise NotFound()
        return True
