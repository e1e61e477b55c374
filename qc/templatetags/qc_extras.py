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


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@register.filter
def event_changes(event: Any) -> list[dict[str, str]]:
    """An audit event's before/after as a list of changed keys: {key, before, after} (values shortened)."""
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    rows = []
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key), after.get(key)
        if key in before and key in after and old == new:
            continue
        rows.append(
            {
                "key": key,
                "before": "" if key not in before else _short(old),
                "after": "" if key not in after else _short(new),
            }
        )
    return rows
