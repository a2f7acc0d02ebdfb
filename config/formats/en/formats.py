"""Shorter, 24-hour date formats than Django's English ones ("1 Dec 2026, 19:15" instead of
"Dec. 1, 2026, 7:15 p.m."), so admin lists with several dates fit a 1280 px window."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
TIME_FORMAT = "H:i"
