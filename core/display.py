"""Admin display helpers every app may use: long ids shortened, the full value on hover."""

from __future__ import annotations

from django.utils.html import format_html


def short_id(value: object, *, length: int = 8) -> str:
    """``value`` cut to its first ``length`` characters, in a ``<span>`` whose title (the
    tooltip) and accessible label hold all of it; short values are left as they are."""
    text = "" if value is None else str(value)
    if len(text) <= length + 1:
        return text
    return format_html(
        '<span class="short-id" title="{}" aria-label="{}">{}…</span>', text, text, text[:length]
    )
