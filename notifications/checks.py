"""System check: a malformed sending-control setting stops ``check``/``migrate``/startup."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register

from notifications.controls import controls_problems


@register()
def check_sending_controls(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return [
        Error(problem, hint="See README, Configuration.", id="notifications.E001")
        for problem in controls_problems()
    ]
