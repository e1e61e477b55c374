from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def pretty_json(value: Any) -> str:
    """Indented JSON for display; the template escapes it like any other text."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    try:
        return mapping.get(str(key)) or mapping.get(key)
    except AttributeError:
        return None


@register.filter
def split_words(value: str) -> list[str]:
    return value.split()
