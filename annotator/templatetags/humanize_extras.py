import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def thousands(value: object) -> str:
    """1234567 -> '1,234,567' (without turning on django.contrib.humanize for one filter)."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def mul(value: object, factor: object) -> float:
    try:
        return float(value) * float(factor)
    except (TypeError, ValueError):
        return 0.0


@register.filter
def to_json(value: Any) -> str:
    """Indented JSON for display (meta, job parameters): what the API and the export write, not a Python repr.
    The template escapes it like any other text."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
