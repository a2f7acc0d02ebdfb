"""Fixtures for tests against the real services: PostgreSQL, Redis and a Celery worker.

Outside CI a missing service skips these tests; under ``CI=true`` it fails them, so a
green CI run always means the integration tests ran.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI needs {reason}")
    pytest.skip(f"needs {reason}")


def check_postgres() -> None:
    """Skip (fail in CI) unless the tests run on PostgreSQL; for fixtures of any scope."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        _missing("DATABASE_URL pointing at PostgreSQL")


def check_redis() -> None:
    """Skip (fail in CI) unless Redis answers at CELERY_BROKER_URL."""
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        _missing("CELERY_BROKER_URL pointing at Redis")
    import redis

    try:
        redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2).ping()
    except redis.RedisError as error:
        _missing(f"Redis answering at {settings.CELERY_BROKER_URL} ({error})")


@pytest.fixture
def require_postgres() -> None:
    check_postgres()


@pytest.fixture
def require_redis() -> None:
    check_redis()


def database_url() -> str:
    """The URL of the database the tests use (pytest-django's test database)."""
    db = settings.DATABASES["default"]
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class CeleryWorker:
    """A real ``celery worker`` process (optionally with beat) on the test database."""

    def __init__(self, *, env: dict[str, str], beat: bool, log_path: Path) -> None:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel=INFO",
            "--concurrency=2",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname=test-{os.getpid()}-{time.monotonic_ns()}@%h",
        ]
        if beat:
            command += ["--beat", f"--schedule={log_path.with_suffix('.beat')}"]
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited:\n{self.log()}")
            if b"ready." in self.log_path.read_bytes():
                return
            time.sleep(0.1)
        raise RuntimeError(f"celery worker not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def child_pids(self) -> list[int]:
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


@pytest.fixture
def worker_env(require_postgres, require_redis) -> dict[str, str]:
    """The environment of a worker that shares the test database and broker."""
    return worker_environment()


def worker_environment() -> dict[str, str]:
    """``worker_env``'s value, for fixtures wider than one test."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "EVENT_BUS_BACKEND": "celery",
        "CONN_MAX_AGE": "0",
        "EVENT_RETRY_BASE_SECONDS": "0.2",
        "EVENT_RETRY_MAX_SECONDS": "1",
        "OUTBOX_SWEEP_INTERVAL": "1",
        "SCHEDULED_EVENTS_INTERVAL": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
    }
    return env


@pytest.fixture
def start_worker(worker_env, tmp_path) -> Iterator[Callable[..., CeleryWorker]]:
    """Start real Celery workers: ``start_worker(beat=True, env={"REMINDER_DELAY": "3s"})``."""
    import redis

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    workers: list[CeleryWorker] = []

    def start(*, beat: bool = False, env: dict[str, str] | None = None) -> CeleryWorker:
        worker = CeleryWorker(
            env={**worker_env, **(env or {})},
            beat=beat,
            log_path=tmp_path / f"worker-{len(workers)}.log",
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def celery_bus(settings, require_postgres, require_redis):
    """Make this test process publish through the Celery backend (as the web process does)."""
    settings.EVENT_BUS = {
        **settings.EVENT_BUS,
        "BACKEND": "eventbus.backends.celery.CeleryBackend",
        "OPTIONS": {},
    }
    return settings.EVENT_BUS


def wait_until(predicate: Callable[[], object], *, timeout: float = 10, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy; fail with a clear message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


# moto's server for the EventBridge backend's tests (see tests/integration/moto_server.py).
from tests.integration.moto_server import aws, moto_endpoint, provisioned  # noqa: E402, F401
