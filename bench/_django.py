"""Django setup for benchmarks: a scratch PostgreSQL database, migrated, never the real one."""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def setup(*, database: str = "bench", env: dict[str, str] | None = None) -> str:
    """Point Django at a fresh scratch database ``database`` and migrate it; returns its URL.

    ``BENCH_POSTGRES_URL`` names the server (default: local PostgreSQL, user postgres).
    """
    import psycopg

    server = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{database}"')
    url = server.rsplit("/", 1)[0] + f"/{database}"
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # DEBUG is off and the settings refuse to run without a key of their own.
    os.environ.setdefault("SECRET_KEY", "bench-only-signing-key-not-for-production-0123456789ab")
    os.environ.setdefault("STATIC_MANIFEST", "0")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    for key, value in (env or {}).items():
        os.environ[key] = value
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return url


def best_of(runs: int, work: Callable[[], object]) -> float:
    """The fastest of ``runs`` timings of ``work()`` in seconds (least disturbed by noise)."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best
