"""`make run`'s stack on the embedded defaults: SQLite and Celery's filesystem transport
under var/, gunicorn + worker + beat from bin/serve, no server of any kind needed, and no
SECRET_KEY either: bin/setup writes a random one under var/ on first run."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def embedded_shop(tmp_path):
    port = free_port()
    # A fresh clone's environment: none of the test run's settings, signing key included.
    env = {
        key: value
        for key, value in os.environ.items()
        # PROMETHEUS_MULTIPROC_DIR: this process's (settings export it); bin/serve empties it.
        if key
        not in {
            "DATABASE_URL",
            "CELERY_BROKER_URL",
            "EVENT_BUS_BACKEND",
            "DEBUG",
            "PROMETHEUS_MULTIPROC_DIR",
            "SECRET_KEY",
            "DJANGO_SETTINGS_MODULE",
            "SERVE_MEDIA",
        }
    }
    env.update({"VAR_DIR": str(tmp_path / "var"), "PORT": str(port), "CELERY_CONCURRENCY": "1"})
    setup = subprocess.run(
        ["bin/setup"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    key_file = tmp_path / "var" / "secret_key"
    assert len(key_file.read_text().strip()) >= 50
    assert key_file.stat().st_mode & 0o077 == 0  # for the owner's eyes only
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        ["bin/serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail((tmp_path / "serve.log").read_text()[-4000:])
            time.sleep(0.3)
        yield base, tmp_path
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def test_embedded_shop_serves_catalog_health_and_event_driven_cart(embedded_shop):
    base, tmp_path = embedded_shop
    health = requests.get(f"{base}/healthz", timeout=5).json()
    assert health["checks"]["database"]["status"] == "up"
    assert health["checks"]["bus"] == {"status": "up", "backend": "CeleryBackend"}

    page = requests.get(f"{base}/", timeout=5)
    assert page.status_code == 200
    assert "Ethiopia Yirgacheffe" in page.text
    # make run serves the product images itself (SERVE_MEDIA=1 from bin/serve).
    assert requests.get(f"{base}/media/products/cof-001.png", timeout=5).status_code == 200
    assert (tmp_path / "var" / "db.sqlite3").exists()

    shopper = requests.Session()
    shopper.get(f"{base}/api/cart/", timeout=5)
    accepted = shopper.post(
        f"{base}/api/cart/items/",
        json={"sku": "TEA-002", "quantity": 2},
        headers={"X-CSRFToken": shopper.cookies["csrftoken"], "Referer": f"{base}/"},
        timeout=5,
    )
    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        cart = shopper.get(f"{base}/api/cart/", timeout=5).json()
        if cart["lines"]:
            break
        time.sleep(0.2)
    assert [(line["sku"], line["quantity"]) for line in cart["lines"]] == [("TEA-002", 2)]
    assert cart["last_event_id"] == accepted.json()["event_id"]

    # /metrics answers loopback by default, and sums the processes bin/serve started:
    # they share var/metrics, emptied at start (the one add of this run, not of an earlier).
    from tests.scrape import Scrape

    scrape = Scrape.parse(requests.get(f"{base}/metrics", timeout=5).text)
    add = {"view": "api-cart-item-add", "method": "POST", "status": "202"}
    assert scrape.value("http_requests_total", **add) == 1
    assert scrape.value("eventbus_outbox_pending") == 0
    assert list((tmp_path / "var" / "metrics").glob("*.db"))
