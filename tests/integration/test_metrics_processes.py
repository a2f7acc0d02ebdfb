"""``/metrics`` under real processes: two gunicorn workers and a Celery prefork worker (two
children) with beat, on PostgreSQL and Redis, sharing one PROMETHEUS_MULTIPROC_DIR. After a
scripted run of adds, one scrape of one web worker shows every process's counts, and the
database gauges; without the token the scrape is refused."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import requests

from cart.services import cart_contact_confirm
from eventbus.models import OutboxEvent
from notifications.models import Reminder
from tests.integration.conftest import wait_until
from tests.integration.test_runtime_lock import free_port, processes, wait_healthy  # noqa: F401
from tests.scrape import Scrape

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TOKEN = "scrape-token-for-the-test"
ADD = {"view": "api-cart-item-add", "method": "POST", "status": "202"}


def scrape(base: str) -> Scrape:
    response = requests.get(
        f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return Scrape.parse(response.text)


class Shopper:
    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.get(f"{base}/api/cart/", timeout=10)

    def _send(self, method: str, path: str, body: dict) -> requests.Response:
        return self.session.request(
            method,
            f"{self.base}{path}",
            json=body,
            headers={"X-CSRFToken": self.session.cookies["csrftoken"], "Referer": self.base},
            timeout=10,
        )

    def add(self, sku: str) -> None:
        response = self._send("POST", "/api/cart/items/", {"sku": sku, "quantity": 1})
        assert response.status_code == 202, response.text

    def give_contact(self) -> None:
        response = self._send(
            "PUT", "/api/cart/contact/", {"email": "ann@example.com", "consent": True}
        )
        assert response.status_code == 202, response.text

    def cart(self) -> dict:
        return self.session.get(f"{self.base}/api/cart/", timeout=10).json()


def test_a_scrape_shows_the_counts_of_every_web_and_worker_process(
    catalog,
    worker_env,
    start_worker,
    processes,  # noqa: F811
    tmp_path,
):
    metrics_dir = tmp_path / "metrics"  # fresh: what the launcher's clean start gives
    metrics_dir.mkdir()
    env = {
        **worker_env,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "METRICS_TOKEN": TOKEN,
        "METRICS_ALLOWED_NETWORKS": "",  # the token only, even from loopback
        "VAR_DIR": str(tmp_path / "var"),
        "REMINDER_DELAY": "2s",
        "STATIC_MANIFEST": "0",
        "PYTHONUNBUFFERED": "1",
    }
    start_worker(beat=True, env=env)  # prefork, two children
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = processes(
        "web",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            f"--bind=127.0.0.1:{port}",
            "--workers=2",
            "--access-logfile=-",
            "--access-logformat=%(p)s %(m)s %(U)s %(s)s",
        ],
        env=env,
    )
    wait_healthy(base, web)

    refused = requests.get(f"{base}/metrics", timeout=10)
    assert refused.status_code == 403
    assert "http_requests" not in refused.text

    before = scrape(base)

    # The scripted run: one shopper with an address (a reminder follows), then adds from
    # new shoppers until both web workers have answered some (each worker counts alone).
    ann = Shopper(base)
    ann.give_contact()
    ann.add("TEA-001")
    # Double opt-in: Ann follows her confirmation email's link (its service, here).
    assert cart_contact_confirm(cart_id=ann.cart()["cart_id"], email="ann@example.com")
    ann.add("COF-001")
    shoppers = [ann]
    adds = 2
    while len(_pids_that_accepted_adds(web.log_path)) < 2:
        assert adds < 60, "gunicorn never spread the adds over its two workers"
        shopper = Shopper(base)
        shopper.add("TEA-002")
        shoppers.append(shopper)
        adds += 1

    # Every cart projected by the Celery children; Ann's reminder sent by one of them.
    wait_until(
        lambda: all(s.cart()["pending_events"] == 0 and s.cart()["lines"] for s in shoppers),
        timeout=60,
        interval=0.3,
    )
    wait_until(lambda: Reminder.objects.filter(status=Reminder.Status.SENT).exists(), timeout=60)
    # The mailer's own events (CartReminderSent) leave the outbox a moment after the send.
    wait_until(
        lambda: not OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).exists(),
        timeout=30,
    )

    after = scrape(base)

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved("http_requests_total", **ADD) == adds
    contact = {"view": "api-cart-contact", "method": "PUT", "status": "202"}
    assert moved("http_requests_total", **contact) == 1
    assert moved("notifications_emails_sent_total") == 1  # counted in a Celery child
    assert moved("notifications_emails_failed_total") == 0
    assert after.value("notifications_reminders", status="sent") == 1
    assert after.value("notifications_reminders", status="pending") == 0
    assert after.value("eventbus_outbox_pending") == 0
    assert after.value("eventbus_outbox_oldest_pending_age_seconds") == 0
    assert all(
        after.value("eventbus_dead_letters", **labels) == 0
        for labels in after.labels_of("eventbus_dead_letters")
    )
    assert after.value("metrics_collector_up", collector="eventbus") == 1

    # The samples came from several processes: two web workers and at least one child.
    writers = {int(m[1]) for m in re.finditer(r"_(\d+)\.db$", _names(metrics_dir), re.M)}
    assert _pids_that_accepted_adds(web.log_path) <= writers
    assert len(writers) >= 3, sorted(writers)


def _names(directory: Path) -> str:
    return "\n".join(sorted(path.name for path in directory.iterdir()))


def _pids_that_accepted_adds(log_path: Path) -> set[int]:
    text = log_path.read_text(errors="replace")
    return {int(pid) for pid in re.findall(r"^<(\d+)> POST /api/cart/items/ 202$", text, re.M)}
