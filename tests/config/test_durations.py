from datetime import timedelta

import pytest

from config.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("24h", timedelta(hours=24)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("7d", timedelta(days=7)),
        ("3600", timedelta(hours=1)),
        ("0.5s", timedelta(milliseconds=500)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "5 parsecs", "h", "0s", "-5s"])
def test_parse_duration_rejects_nonsense(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
