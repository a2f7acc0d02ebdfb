"""Every shipped process runs from a virtualenv built from the runtime lock alone (no dev
package to hide a missing one), on the real services: `make run`'s gunicorn, Celery worker
and beat on Redis and PostgreSQL, and the AWS processes (provision_eventbridge, gunicorn,
relay_events, consume_events, replay_events) against moto's server.

The venv is cached by the lock's hash (tests/integration/fresh_venv.py). To see these tests
fail on another requirements file, e.g. the hand-kept one this lock replaced:
``FRESH_VENV_REQUIREMENTS=/path/to/requirements.txt pytest tests/integration/test_runtime_lock.py``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from django.db import transaction
from packaging.markers import default_environment
from packaging.utils import canonicalize_name

from eventbus.models import OutboxEvent
from eventbus.outbox import publish
from tests.eventbus.sample_events import ParcelShipped
from tests.integration.conftest import ROOT, database_url, wait_until
from tests.integration.fresh_venv import clean_environment, fresh_venv, requirements_under_test
from tests.integration.moto_server import BUS_NAME, QUEUE_PREFIX, REGION, SCHEDULE_GROUP
from tests.lockfiles import read_lock

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="session")
def runtime_venv() -> Path:
    return fresh_venv(requirements_under_test())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Process:
    """A long-running command in its own process group, its output in a log file."""

    def __init__(self, name: str, command: list[str], *, env: dict[str, str], logs: Path):
        self.name = name
        self.log_path = logs / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def failure(self, what: str) -> str:
        state = "running" if self.process.poll() is None else f"exit {self.process.returncode}"
        return f"{self.name} ({state}): {what}\n--- its log ---\n{self.log()[-5000:]}"

    def wait_for_log(self, pattern: str, *, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.log())
            if found:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        pytest.fail(self.failure(f"never logged {pattern!r}"))

    def stop(self, *, timeout: float = 30) -> int:
        """SIGTERM the group (what a process manager sends); SIGKILL after ``timeout``."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
        return self.process.returncode


@pytest.fixture
def processes(transactional_db, tmp_path) -> Iterator[Callable[..., Process]]:
    """Start processes that are all stopped before the test database is flushed."""
    started: list[Process] = []

    def start(name: str, command: list[str], *, env: dict[str, str]) -> Process:
        started.append(Process(name, command, env=env, logs=tmp_path))
        return started[-1]

    yield start
    for process in reversed(started):
        process.stop()


def run_command(command: list[str], *, env: dict[str, str]) -> str:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def wait_healthy(base: str, process: Process, *, timeout: float = 60) -> dict:
    """``GET /healthz`` until it answers 200; fail with its last answer and the log."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline and process.process.poll() is None:
        try:
            response = requests.get(f"{base}/healthz", timeout=5)
        except requests.RequestException as error:
            last = repr(error)
        else:
            if response.status_code == 200:
                return response.json()
            last = f"{response.status_code} {response.text}"
        time.sleep(0.3)
    pytest.fail(process.failure(f"/healthz never answered 200; last: {last}"))


def add_to_cart(base: str, *, sku: str, quantity: int) -> tuple[requests.Session, dict]:
    shopper = requests.Session()
    shopper.get(f"{base}/api/cart/", timeout=10)
    accepted = shopper.post(
        f"{base}/api/cart/items/",
        json={"sku": sku, "quantity": quantity},
        headers={"X-CSRFToken": shopper.cookies["csrftoken"], "Referer": f"{base}/"},
        timeout=10,
    )
    assert accepted.status_code == 202, accepted.text
    return shopper, accepted.json()


def wait_for_cart_lines(shopper: requests.Session, base: str, process: Process) -> dict:
    def applied() -> dict | None:
        cart = shopper.get(f"{base}/api/cart/", timeout=10).json()
        return cart if cart["lines"] else None

    try:
        return wait_until(applied, timeout=30, interval=0.3)
    except AssertionError:
        pytest.fail(process.failure("the projection never applied the add"))


def test_the_fresh_venv_holds_exactly_the_runtime_lock(runtime_venv):
    """No dev package to lend a missing import, and nothing the lock does not name."""
    freeze = subprocess.run(
        [
            str(runtime_venv / "bin" / "python"),
            "-m",
            "pip",
            "freeze",
            "--disable-pip-version-check",
        ],
        env=clean_environment(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {}
    for line in freeze.splitlines():
        name, _, version = line.partition("==")
        installed[canonicalize_name(name)] = version
    locked = {
        pin.name: pin.version
        for pin in read_lock(requirements_under_test())
        if pin.applies(default_environment())
    }
    assert installed == locked
    assert "pytest" not in installed


def test_make_run_serves_from_the_runtime_lock_with_its_worker_and_beat_on_redis(
    runtime_venv, processes, require_postgres, require_redis, settings, tmp_path
):
    import redis

    from config.celery_app import app as celery_app

    broker_url = settings.CELERY_BROKER_URL
    redis.Redis.from_url(broker_url).flushdb()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_environment(
        VENV=str(runtime_venv),  # bin/setup and bin/serve run from it
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=broker_url,
        CACHE_URL=broker_url,  # Django's RedisCache, through the redis client
        EVENT_BUS_BACKEND="celery",
        VAR_DIR=str(tmp_path / "var"),
        DEBUG="0",  # the manifest storage: collectstatic's hashed files, served by WhiteNoise
        PORT=str(port),
        WEB_CONCURRENCY="1",
        CELERY_CONCURRENCY="1",
        CONN_MAX_AGE="0",
        OUTBOX_SWEEP_INTERVAL="1",
        PYTHONUNBUFFERED="1",
    )

    # `make run`: migrate (its system checks need Pillow for the ImageField), collectstatic,
    # seed_catalog; then bin/serve's gunicorn and `celery worker --beat`.
    run_command(["bin/setup"], env=env)
    serve = processes("serve", ["bin/serve"], env=env)

    health = wait_healthy(base, serve)
    assert health["checks"]["database"] == {"status": "up"}
    assert health["checks"]["bus"] == {"status": "up", "backend": "CeleryBackend"}

    serve.wait_for_log(r"shop@\S+ ready\.")
    replies = wait_until(lambda: celery_app.control.ping(timeout=1), timeout=20, interval=0.5)
    assert [reply for answer in replies for name, reply in answer.items() if "shop@" in name] == [
        {"ok": "pong"}
    ]
    # Beat: a row that no web process relayed goes out with beat's periodic sweep.
    settings.EVENT_BUS = {**settings.EVENT_BUS, "RELAY_AFTER_COMMIT": "off"}
    with transaction.atomic():
        parked = publish(ParcelShipped(parcel_id="P-1", weight_grams=500))
    assert OutboxEvent.objects.get(pk=parked.id).status == OutboxEvent.Status.PENDING
    try:
        wait_until(
            lambda: OutboxEvent.objects.filter(
                pk=parked.id, status=OutboxEvent.Status.PUBLISHED
            ).exists(),
            timeout=20,
        )
    except AssertionError:
        pytest.fail(serve.failure("beat's outbox sweep never published the pending row"))

    page = requests.get(f"{base}/", timeout=10)
    assert page.status_code == 200
    stylesheet = re.search(r'href="(/static/shop/shop\.[0-9a-f]{12}\.css)"', page.text)
    assert stylesheet, "the page links collectstatic's hashed stylesheet"
    assert requests.get(f"{base}{stylesheet[1]}", timeout=10).status_code == 200

    shopper, accepted = add_to_cart(base, sku="TEA-002", quantity=2)
    cart = wait_for_cart_lines(shopper, base, serve)  # the worker ran the projection
    assert [(line["sku"], line["quantity"]) for line in cart["lines"]] == [("TEA-002", 2)]
    assert cart["last_event_id"] == accepted["event_id"]


def test_the_aws_processes_run_from_the_runtime_lock_against_moto(
    runtime_venv, processes, require_postgres, aws, tmp_path
):
    python = str(runtime_venv / "bin" / "python")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # The `aws` fixture put AWS_ENDPOINT_URL (moto, in this process) and test credentials
    # into the environment; these processes inherit them.
    env = clean_environment(
        DATABASE_URL=database_url(),
        EVENT_BUS_BACKEND="eventbridge",
        EVENT_BUS_NAME=BUS_NAME,
        EVENT_QUEUE_PREFIX=QUEUE_PREFIX,
        SCHEDULE_GROUP=SCHEDULE_GROUP,
        AWS_REGION=REGION,
        # Leave publishing to relay_events, so the add travels through it.
        OUTBOX_RELAY_AFTER_COMMIT="off",
        VAR_DIR=str(tmp_path / "var"),
        STATIC_MANIFEST="0",
        CONN_MAX_AGE="0",
        PYTHONUNBUFFERED="1",
    )
    assert env["AWS_ENDPOINT_URL"] == aws.endpoint

    # The release step and the deploy pipeline's provisioning (docs/aws.md).
    run_command([python, "manage.py", "migrate", "--noinput", "-v0"], env=env)
    run_command([python, "manage.py", "seed_catalog"], env=env)
    provisioned = run_command(
        [python, "manage.py", "provision_eventbridge", "--create-role"], env=env
    )
    assert f"{QUEUE_PREFIX}-cart-projection" in provisioned
    # A new consumer's catch-up, from the outbox and (planned) from the bus's archive.
    replay = [python, "manage.py", "replay_events", "--subscription", "cart-projection"]
    for source in ([], ["--from-archive"]):
        assert "Dry run" in run_command([*replay, "--dry-run", *source], env=env)
    # The CloudFormation template, YAML by default (PyYAML is a runtime dependency).
    template = run_command([python, "manage.py", "eventbridge_template"], env=env)
    assert "Type: AWS::Events::Rule" in template

    web = processes(
        "web",
        [
            str(runtime_venv / "bin" / "gunicorn"),
            "config.wsgi",
            f"--bind=127.0.0.1:{port}",
            "--workers=1",
            "--access-logfile=-",
        ],
        env=env,
    )
    relay = processes("relay", [python, "manage.py", "relay_events", "--interval", "0.5"], env=env)
    consumer = processes(
        "consumer", [python, "manage.py", "consume_events", "--wait-seconds", "1"], env=env
    )

    health = wait_healthy(base, web)
    assert health["checks"]["bus"] == {"status": "up", "backend": "EventBridgeBackend"}
    relay.wait_for_log(r"relaying every 0\.5s")
    consumer.wait_for_log(r"Consuming .*cart-projection")

    shopper, accepted = add_to_cart(base, sku="TEA-001", quantity=3)
    relay.wait_for_log(r"outbox: 1 published, 0 retrying, 0 dead", timeout=30)
    cart = wait_for_cart_lines(shopper, base, consumer)
    assert [(line["sku"], line["quantity"]) for line in cart["lines"]] == [("TEA-001", 3)]
    assert cart["last_event_id"] == accepted["event_id"]

    # Both stop cleanly on SIGTERM, saying what they did.
    assert consumer.stop() == 0, consumer.log()
    assert re.search(r"handled [1-9]", consumer.log()), consumer.log()
    assert relay.stop() == 0, relay.log()
    assert "relay stopped" in relay.log()
