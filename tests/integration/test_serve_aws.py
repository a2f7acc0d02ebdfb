"""`make run-aws`'s bin/serve-aws: moto, provisioning, then the Procfile's web, relay and
consumers (and the development schedule firer), on PostgreSQL. An add travels through the
relay process (the web leaves publishing to it here) and the consumers apply it."""

from __future__ import annotations

import pytest
import requests

from tests.integration.conftest import database_url
from tests.integration.fresh_venv import clean_environment
from tests.integration.test_runtime_lock import (  # noqa: F401
    add_to_cart,
    free_port,
    processes,
    wait_for_cart_lines,
    wait_healthy,
)
from tests.scrape import Scrape

pytestmark = [pytest.mark.integration]


def test_make_run_aws_runs_the_procfiles_aws_processes(
    require_postgres,
    catalog,
    processes,  # noqa: F811
    tmp_path,
):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_environment(
        DATABASE_URL=database_url(),
        PORT=str(port),
        MOTO_PORT=str(free_port()),
        VAR_DIR=str(tmp_path / "var"),
        OUTBOX_RELAY_AFTER_COMMIT="off",  # the relay process publishes, or nothing does
        WEB_CONCURRENCY="1",
        STATIC_MANIFEST="0",
        CONN_MAX_AGE="0",
        PYTHONUNBUFFERED="1",
    )
    (tmp_path / "var").mkdir()
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "EVENT_BUS_BACKEND"):
        env.pop(name, None)
    serve = processes("serve-aws", ["bin/serve-aws"], env=env)

    health = wait_healthy(base, serve)
    assert health["checks"]["bus"] == {"status": "up", "backend": "EventBridgeBackend"}
    serve.wait_for_log(r"relaying every 2(\.0)?s")
    serve.wait_for_log(r"Consuming .*cart-projection")

    shopper, accepted = add_to_cart(base, sku="TEA-001", quantity=2)
    cart = wait_for_cart_lines(shopper, base, serve)
    assert [(line["sku"], line["quantity"]) for line in cart["lines"]] == [("TEA-001", 2)]
    assert cart["last_event_id"] == accepted["event_id"]

    # Every process keeps its samples under VAR_DIR/metrics (the web worker, the relay, the
    # consumers, the firer): one file each, summed by the scrape.
    writers = {path.stem.rsplit("_", 1)[1] for path in (tmp_path / "var" / "metrics").glob("*.db")}
    assert len(writers) >= 4, sorted(writers)
    scrape = Scrape.parse(requests.get(f"{base}/metrics", timeout=10).text)
    add = {"view": "api-cart-item-add", "method": "POST", "status": "202"}
    assert scrape.value("http_requests_total", **add) == 1
    assert scrape.value("eventbus_outbox_pending") == 0
