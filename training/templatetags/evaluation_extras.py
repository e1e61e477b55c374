from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def rouge(value: Any) -> str:
    """A ROUGE-L F-measure in 0-1 as the paper prints it (x 100, one decimal); "—" when missing."""
    if value is None or value == "":
        return "—"
    return f"{100 * float(value):.1f}"
