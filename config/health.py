"""``GET /healthz``: 200 when the database and the bus answer, 503 naming what is down."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from eventbus.backends import get_backend


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_bus() -> None:
    get_backend().check()


CHECKS = {"database": _check_database, "bus": _check_bus}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    results: dict[str, dict[str, str]] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as error:  # any failure is "down"; say which and why
            results[name] = {"status": "down", "error": f"{type(error).__name__}: {error}"[:300]}
        else:
            results[name] = {"status": "up"}
    results["bus"]["backend"] = get_backend().label
    healthy = all(item["status"] == "up" for item in results.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": results},
        status=200 if healthy else 503,
    )
