"""``GET /healthz``: 200 when every registered check answers, 503 naming what is down.

The database check is built in; other apps register theirs (the event bus registers "bus"
from its ``AppConfig.ready()``), so this module never imports an app.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

# A check raises when what it checks is down.
HealthCheck = Callable[[], None]
Details = Callable[[], dict[str, str]]

_checks: dict[str, tuple[HealthCheck, Details | None]] = {}


def register_check(name: str, check: HealthCheck, *, details: Details | None = None) -> None:
    """Make ``/healthz`` run ``check`` under ``name``; ``details`` adds fields shown whether it
    is up or down (which backend, say). Registering a name again replaces it."""
    _checks[name] = (check, details)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


register_check("database", _check_database)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    results: dict[str, dict[str, str]] = {}
    for name, (check, details) in _checks.items():
        try:
            check()
        except Exception as error:  # any failure is "down"; say which and why
            results[name] = {"status": "down", "error": f"{type(error).__name__}: {error}"[:300]}
        else:
            results[name] = {"status": "up"}
        if details is not None:
            results[name].update(details())
    healthy = all(item["status"] == "up" for item in results.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": results},
        status=200 if healthy else 503,
    )
