"""Cursor pagination for the API: keyset on the primary key, no COUNT, stable under inserts."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination


class IdCursorPagination(CursorPagination):
    """Keyset pagination on the primary key, oldest first. A malformed ?cursor= is a 400, not a 500."""

    ordering = "id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def decode_cursor(self, request: Any) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except NotFound as exc:
            raise ValidationError({"cursor": "Invalid cursor: use the next/previous links as given."}) from exc
        if cursor is not None and cursor.position is not None:
            try:
                int(cursor.position)
            except (TypeError, ValueError):
                raise ValidationError({"cursor": "Invalid cursor: use the next/previous links as given."}) from None
        return cursor


class NewestFirstCursorPagination(IdCursorPagination):
    """Newest first, as the web lists show them."""

    ordering = "-id"
