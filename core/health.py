"""``GET /healthz``: 200 when every registered check answers, 503 naming what is down.

The database check is built in; other apps register theirs (the event bus registers "bus"
from its ``AppConfig.ready()``), so this module never imports an app. Why a check failed
(the exception's text names hosts, users, ports) is shown only to staff and to callers on
this machine; anyone else learns which check is down, nothing more.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.clients import client_is_local

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


def _may_see_errors(request: HttpRequest) -> bool:
    """Staff, or a caller on this machine (the address after ``NUM_PROXIES``)."""
    if client_is_local(request):
        return True
    try:
        user = getattr(request, "user", None)
        return bool(user is not None and user.is_authenticated and user.is_staff)
    except Exception:  # the session store is the database, which may be what is down
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    results: dict[str, dict[str, str]] = {}
    errors: dict[str, str] = {}
    for name, (check, details) in _checks.items():
        try:
            check()
        except Exception as error:  # any failure is "down"; say which (and why, to some)
            results[name] = {"status": "down"}
            errors[name] = f"{type(error).__name__}: {error}"[:300]
        else:
            results[name] = {"status": "up"}
        if details is not None:
            results[name].update(details())
    if errors and _may_see_errors(request):
        for name, error in errors.items():
            results[name]["error"] = error
    healthy = not errors
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": results},
        status=200 if healthy else 503,
    )
