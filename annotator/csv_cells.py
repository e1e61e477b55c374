"""CSV cells that spreadsheets will not run as formulas (CSV/formula injection).

A cell starting with = + - @ (or a tab / carriage return) is prefixed with an apostrophe, which
Excel, LibreOffice and Google Sheets show as text. Numbers are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in values]
