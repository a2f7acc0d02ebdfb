"""Human-friendly durations for settings such as ``REMINDER_DELAY=24h`` or ``90s``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> timedelta:
    """Parse ``90s``, ``15m``, ``24h``, ``1h30m``, ``7d`` or plain seconds (``3600``)."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return timedelta(seconds=float(value))
    if not value or _PART.sub("", value):
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 24h, 1h30m, 7d)")
    total = timedelta()
    for number, unit in _PART.findall(value):
        total += timedelta(**{_UNITS[unit]: float(number)})
    if total <= timedelta():
        raise ValueError(f"duration must be positive: {text!r}")
    return total
