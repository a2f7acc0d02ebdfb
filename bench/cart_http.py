"""The event path over HTTP, under gunicorn (config/gunicorn.py) on PostgreSQL, in one run.

(a) The front door, consumers stopped: the 202 add for a returning guest (session cookie,
    adding to their own cart), for a new guest (no cookie: a new cart and session each)
    and for a token client (their own cart), against a bare DRF endpoint and against the
    synchronous add (the line written in the request) on the same server, each called the
    same way. wrk, closed loop, warm-up, then interleaved rounds; medians, and ratios of
    adjacent runs so load drifting on the machine cancels out.
(b) Capacity: adds offered at stepped rates (open loop) with the web server, its relay and
    a Celery worker all on this machine: the achieved rate, accept-to-visible p50/p99 and
    whether every add became visible; the synchronous add's latency at the same rates;
    the highest rate each keeps up at with p99 under 100 ms.
(c) SQL statements per accepted add (each kind of client, the accepting transaction), and
    per delivered event the worker's statements and CPU milliseconds, for batches of
    several sizes.

Scratch PostgreSQL database ``bench_cart_http``, Redis db 14 (broker) and 13 (cache), both
flushed; the ``BENCH_*`` variables below are the knobs.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path

from bench._django import setup

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("BENCH_CART_REDIS_URL", "redis://127.0.0.1:6379/14")
CACHE_URL = os.environ.get("BENCH_CART_CACHE_URL", "redis://127.0.0.1:6379/13")
WRK_THREADS = int(os.environ.get("BENCH_WRK_THREADS", "2"))
WRK_CONNECTIONS = int(os.environ.get("BENCH_WRK_CONNECTIONS", "16"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WARMUP_SECONDS = int(os.environ.get("BENCH_WARMUP_SECONDS", "2"))
RATES = [float(rate) for rate in os.environ.get("BENCH_RATES", "25,50,100,200,400").split(",")]
STEP_SECONDS = int(os.environ.get("BENCH_STEP_SECONDS", "8"))
WORKER_CONCURRENCY = int(os.environ.get("BENCH_WORKER_CONCURRENCY", "2"))
WORKER_POOL = os.environ.get("BENCH_WORKER_POOL", "prefork")
CLIENTS_PER_KIND = int(os.environ.get("BENCH_CLIENTS", "200"))
BATCH_SIZES = [1, 10, 50]
# The parts to run (BENCH_PARTS=b: capacity only): a front door, b capacity, c statements.
PARTS = set(os.environ.get("BENCH_PARTS", "a,b,c").split(","))
# Who relays the outbox: "thread" (each web process after its commits) or "process" (one
# `manage.py relay_events` for the machine, woken by each commit, at most one batch per
# BENCH_RELAY_LINGER seconds so that the commits of all web processes travel together).
RELAY = os.environ.get("BENCH_RELAY", "process")
RELAY_LINGER = os.environ.get("BENCH_RELAY_LINGER", "0.02")

GOAL_VS_SYNC = 2.0
GOAL_VS_CONSTANT = 0.5
GOAL_P99_VS_CONSTANT = 2.0
GOAL_STATEMENTS = 3
VISIBLE_P99_MS = 100.0

KINDS = {
    "guest": "returning guest (session cookie, own cart)",
    "new": "new guest (no cookie: new cart and session)",
    "token": "token client (own cart)",
}
ENDPOINTS = {
    "constant": ("/bench/constant/", "bare DRF, constant JSON"),
    "accepted": ("/api/cart/items/", "add-to-cart 202"),
    "synchronous": ("/bench/cart/items/", "synchronous add"),
}


def main() -> None:
    media = tempfile.mkdtemp(prefix="bench-media-")
    settings_env = {
        "CELERY_BROKER_URL": REDIS_URL,
        "CACHE_URL": CACHE_URL,
        "EVENT_BUS_BACKEND": "celery",
        "CART_ADD_THROTTLE_RATE": "100000000/min",
        # Clients add to their own carts over and over: no per-line limit may bite.
        "CART_MAX_QUANTITY": "1000000000",
        "MEDIA_ROOT": media,
        "DEBUG": "0",
        "STATIC_MANIFEST": "0",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_ACCESS_LOG": "",
        **({"OUTBOX_RELAY_AFTER_COMMIT": "off"} if RELAY == "process" else {}),
    }
    database_url = setup(database="bench_cart_http", env=settings_env)
    import redis

    from eventbus.models import OutboxEvent
    from shop.models import Product
    from shop.services import catalog_seed_demo

    catalog_seed_demo()
    Product.objects.update(stock=1_000_000_000)
    skus = list(Product.objects.filter(active=True).values_list("sku", flat=True))
    for url in (REDIS_URL, CACHE_URL):
        redis.Redis.from_url(url).flushdb()
    env = {
        **os.environ,
        **settings_env,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "bench._http_settings",
    }
    logs = Path(tempfile.mkdtemp(prefix="bench-cart-http-"))
    load_before = os.getloadavg()[0]
    statements, worker_costs, front, capacity = {}, [], {}, {}
    if "c" in PARTS:  # in this process, before any load
        statements = _statements_per_add(skus)
        worker_costs = _worker_costs(skus)
    server = Gunicorn(env=env, log_path=logs / "gunicorn.log")
    try:
        relaying = (
            f"one relay_events process, linger {RELAY_LINGER}s (web CPU includes it)"
            if RELAY == "process"
            else "a background relay thread in each web process"
        )
        print(f"gunicorn: {server.describe()}; wrk {WRK_THREADS} threads, "
              f"{WRK_CONNECTIONS} connections; relay: {relaying}", flush=True)  # fmt: skip
        if "a" in PARTS:
            front = _front_door(server, skus)
            # The front door's events, in the outbox or the broker, are no backlog for (b).
            OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).delete()
            redis.Redis.from_url(REDIS_URL).flushdb()
        if "b" in PARTS:
            worker = CeleryWorker(env=env, log_path=logs / "worker.log")
            relay = (
                RelayProcess(env=env, log_path=logs / "relay.log") if RELAY == "process" else None
            )
            server.relay = relay
            try:
                capacity = _capacity(server, worker, skus, database_url)
            finally:
                worker.stop()
                if relay:
                    relay.stop()
    finally:
        server.stop()
        for url in (REDIS_URL, CACHE_URL):
            redis.Redis.from_url(url).flushdb()
    _report(front, capacity, statements, worker_costs)
    print(
        f"  ({os.cpu_count()} CPUs; 1-minute load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after; server and worker logs in {logs})"
    )


# --- Clients ------------------------------------------------------------------------------


@dataclass
class Client:
    """How one client identifies itself: the headers of its requests."""

    headers: dict[str, str] = field(default_factory=dict)


def _token_clients(label: str, count: int) -> list[Client]:
    """``count`` users with an API token and an open (empty) cart each."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from cart.models import Cart

    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        user_model(username=f"bench-{label}-{number}", password="!") for number in range(count)
    )
    Cart.objects.bulk_create(Cart(user=user) for user in users)
    tokens = Token.objects.bulk_create(Token(user=user, key=Token.generate_key()) for user in users)
    return [Client({"Authorization": f"Token {token.key}"}) for token in tokens]


def _guest_clients(base: str, path: str, count: int, sku: str) -> list[Client]:
    """``count`` guests, each with a session holding a cart (made by a first add to
    ``path``) and its CSRF token: what a returning shopper's browser sends."""
    host, port = base.removeprefix("http://").split(":")
    clients = []
    for _ in range(count):
        connection = HTTPConnection(host, int(port), timeout=30)
        connection.request("GET", "/api/cart/")
        response = connection.getresponse()
        response.read()
        cookies = _cookies(response)
        token = cookies["csrftoken"]
        headers = {"Cookie": f"csrftoken={token}", "X-CSRFToken": token}
        connection = HTTPConnection(host, int(port), timeout=30)
        connection.request(
            "POST",
            path,
            json.dumps({"sku": sku, "quantity": 1}),
            {**headers, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        response.read()
        if response.status >= 300:
            raise SystemExit(f"guest setup on {path} answered {response.status}")
        cookies.update(_cookies(response))
        clients.append(
            Client(
                {
                    "Cookie": f"csrftoken={token}; sessionid={cookies['sessionid']}",
                    "X-CSRFToken": token,
                }
            )
        )
    return clients


def _cookies(response) -> dict[str, str]:
    found = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        found[name.strip()] = rest.split(";", 1)[0]
    return found


def _clients_for(kind: str, endpoint: str, base: str, skus: list[str]) -> list[Client]:
    path = ENDPOINTS[endpoint][0]
    if kind == "token":
        return _token_clients(f"{kind}-{endpoint}", CLIENTS_PER_KIND)
    if kind == "guest":
        # A constant endpoint has no cart of its own: its guests are the 202 add's kind.
        setup_path = path if endpoint != "constant" else ENDPOINTS["accepted"][0]
        return _guest_clients(base, setup_path, CLIENTS_PER_KIND, skus[0])
    return [Client()]  # a new guest: nothing to send but the body


# --- (a) The front door ---------------------------------------------------------------------


@dataclass
class LoadResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


WRK_SCRIPT = """
local clients = {%(clients)s}
local skus = {%(skus)s}
local threads = 0
local counter = 0

function setup(thread)
  thread:set("thread_number", threads)
  threads = threads + 1
end

function request()
  counter = counter + 1
  local n = counter * %(thread_count)d + thread_number
  local headers = clients[(n %% #clients) + 1]
  local sku = skus[(math.floor(n / #clients) %% #skus) + 1]
  local all = {["Content-Type"] = "application/json"}
  for name, value in pairs(headers) do all[name] = value end
  return wrk.format("POST", nil, all, '{"sku": "' .. sku .. '", "quantity": 1}')
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "duration_us": %%d, "errors": %%d, "p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration,
    errors.connect + errors.read + errors.write + errors.status + errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _lua_table(headers: dict[str, str]) -> str:
    return (
        "{"
        + ", ".join(f'["{name}"] = {json.dumps(value)}' for name, value in headers.items())
        + "}"
    )


def _wrk_script(clients: list[Client], skus: list[str]) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            WRK_SCRIPT
            % {
                "clients": ", ".join(_lua_table(client.headers) for client in clients),
                "skus": ", ".join(f'"{sku}"' for sku in skus),
                "thread_count": WRK_THREADS,
            }
        )
    return script.name


def _wrk(url: str, script: str, seconds: int) -> LoadResult:
    command = [
        "wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s",
        "--timeout", "10s", "-s", script, url,
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    data = json.loads(line.removeprefix("RESULT "))
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=data["errors"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
    )


def _front_door(server: Gunicorn, skus: list[str]) -> dict[tuple[str, str], list[LoadResult]]:
    """Every (client kind, endpoint) pair: warmed up, then measured in interleaved rounds."""
    pairs = [(kind, endpoint) for kind in KINDS for endpoint in ENDPOINTS]
    scripts = {pair: _wrk_script(_clients_for(*pair, server.url, skus), skus) for pair in pairs}
    try:
        for kind, endpoint in pairs:
            _wrk(server.url + ENDPOINTS[endpoint][0], scripts[kind, endpoint], WARMUP_SECONDS)
        results: dict[tuple[str, str], list[LoadResult]] = {pair: [] for pair in pairs}
        for number in range(ROUNDS):
            for kind, endpoint in pairs:
                url = server.url + ENDPOINTS[endpoint][0]
                results[kind, endpoint].append(_wrk(url, scripts[kind, endpoint], SECONDS))
            print(f"front door: round {number + 1}/{ROUNDS} done", flush=True)
    finally:
        for script in scripts.values():
            os.unlink(script)
    bad = {
        pair: sum(r.errors for r in runs)
        for pair, runs in results.items()
        if any(r.errors for r in runs)
    }
    if bad:
        raise SystemExit(f"wrk saw errors (non-2xx answers count): {bad}")
    _check_work_done(results)
    return results


def _check_work_done(results: dict[tuple[str, str], list[LoadResult]]) -> None:
    """Every measured 202 wrote an outbox row, every synchronous add a line unit."""
    from django.db.models import Sum

    from cart.models import CartLine
    from eventbus.models import OutboxEvent

    events = OutboxEvent.objects.filter(detail_type="ItemAddedToCart").count()
    units = CartLine.objects.aggregate(total=Sum("quantity"))["total"] or 0
    accepted = sum(
        r.requests
        for (_, endpoint), runs in results.items()
        for r in runs
        if endpoint == "accepted"
    )
    synchronous = sum(
        r.requests
        for (_, endpoint), runs in results.items()
        for r in runs
        if endpoint == "synchronous"
    )
    if events < accepted or units < synchronous:
        raise SystemExit(
            f"requests without effect: {events} outbox rows for {accepted} measured 202s, "
            f"{units} line units for {synchronous} measured synchronous adds"
        )


# --- (b) Capacity ---------------------------------------------------------------------------

# Bench-only, in the scratch database: the projection's commit notifies the listener, so
# "visible" is timed to the commit without polling load on the database.
NOTIFY_ON_APPLY = """
CREATE OR REPLACE FUNCTION bench_notify_cart_applied() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('bench_cart_applied', NEW.last_event_id);
  RETURN NEW;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS bench_cart_applied ON cart_cart;
CREATE TRIGGER bench_cart_applied AFTER UPDATE OF last_event_id ON cart_cart
  FOR EACH ROW WHEN (NEW.last_event_id <> OLD.last_event_id)
  EXECUTE FUNCTION bench_notify_cart_applied();
"""


@dataclass
class Sent:
    at: float  # time.monotonic() when the request went out
    latency_ms: float
    status: int
    body: bytes


def _open_loop(
    base: str, path: str, clients: list[Client], skus: list[str], rate: float
) -> list[Sent]:
    """One POST per client at a fixed rate, whatever the answers' latency (open loop: a
    slow answer does not delay the next request, so latency is not under-reported). One
    asyncio thread sends them all: little client CPU on a machine the server shares."""
    host, port = base.removeprefix("http://").split(":")

    async def post(client: Client, sku: str, at: float) -> Sent:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        body = json.dumps({"sku": sku, "quantity": 1}).encode()
        head = "".join(f"{name}: {value}\r\n" for name, value in client.headers.items())
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n{head}\r\n"
        ).encode() + body
        sent_at = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(request)
            await writer.drain()
            raw = await reader.read()
            writer.close()
            status_line, _, rest = raw.partition(b"\r\n")
            status, payload = int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]
        except (OSError, IndexError, ValueError) as error:  # refused, reset, cut short
            status, payload = 0, repr(error).encode()
        return Sent(sent_at, (time.monotonic() - sent_at) * 1000, status, payload)

    async def run() -> list[Sent]:
        start = time.monotonic() + 0.2
        return await asyncio.gather(
            *(
                post(client, skus[index % len(skus)], start + index / rate)
                for index, client in enumerate(clients)
            )
        )

    return asyncio.run(run())


@dataclass
class Step:
    offered: float
    achieved: float
    samples: int
    accepted: int
    visible: int
    visible_ms: list[float]
    answer_ms: list[float]
    web_cpu_ms: float  # per request
    worker_cpu_ms: float  # per delivered event

    def keeps_up(self) -> bool:
        return (
            self.visible == self.samples
            and _percentile(self.visible_ms, 99) < VISIBLE_P99_MS
            and self.achieved >= 0.95 * self.offered
        )


def _capacity(
    server: Gunicorn, worker: CeleryWorker, skus: list[str], database_url: str
) -> dict[str, list[Step]]:
    """The 202 add through the whole pipeline, and the synchronous add, at each rate."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(NOTIFY_ON_APPLY)
    steps: dict[str, list[Step]] = {"accepted": [], "synchronous": []}
    for endpoint in steps:
        for rate in RATES:
            step = _step(server, worker, endpoint, rate, skus, database_url)
            steps[endpoint].append(step)
            print(
                f"capacity: {ENDPOINTS[endpoint][1]} at {rate:g}/s: achieved "
                f"{step.achieved:.0f}/s, p99 "
                f"{_percentile(step.visible_ms, 99):.0f} ms, {step.visible}/{step.samples}",
                flush=True,
            )
            if not step.keeps_up() and _percentile(step.visible_ms, 50) > 10 * VISIBLE_P99_MS:
                break  # far past saturation: higher rates only take longer to drain
    return steps


def _step(
    server: Gunicorn, worker: CeleryWorker, endpoint: str, rate: float, skus: list[str],
    database_url: str,
) -> Step:  # fmt: skip
    """Adds at ``rate`` for STEP_SECONDS, each to another client's own cart (so each
    cart's commit notification names exactly one add)."""
    import psycopg

    count = int(rate * (WARMUP_SECONDS + STEP_SECONDS))
    clients = _token_clients(f"capacity-{endpoint}-{rate:g}", count)
    applied_at: dict[str, float] = {}
    done_sending = threading.Event()
    listening = threading.Event()

    def listen() -> None:
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute("LISTEN bench_cart_applied")
            listening.set()
            deadline = None
            while deadline is None or time.monotonic() < deadline:
                for notice in connection.notifies(timeout=0.5):
                    applied_at[notice.payload] = time.monotonic()
                if done_sending.is_set():
                    deadline = deadline or time.monotonic() + 10
                    if len(applied_at) >= count:
                        return

    listener = threading.Thread(target=listen)
    if endpoint == "accepted":
        listener.start()
        listening.wait(10)
    cpu_before = server.cpu_seconds(), worker.cpu_seconds()
    sent = _open_loop(server.url, ENDPOINTS[endpoint][0], clients, skus, rate)
    done_sending.set()
    if endpoint == "accepted":
        listener.join()
    cpu_after = server.cpu_seconds(), worker.cpu_seconds()

    measured = sent[int(rate * WARMUP_SECONDS) :]
    ok = [item for item in measured if item.status in (200, 202)]
    if endpoint == "accepted":
        ids = [json.loads(item.body)["event_id"] for item in ok]
        visible = [
            (applied_at[i] - item.at) * 1000
            for item, i in zip(ok, ids, strict=True)
            if i in applied_at
        ]
    else:
        visible = [item.latency_ms for item in ok]  # the line exists when the answer does
    span = measured[-1].at - measured[0].at
    return Step(
        offered=rate,
        achieved=(len(measured) - 1) / span if span > 0 else 0.0,
        samples=len(measured),
        accepted=len(ok),
        visible=len(visible),
        visible_ms=sorted(visible),
        answer_ms=sorted(item.latency_ms for item in measured),
        web_cpu_ms=(cpu_after[0] - cpu_before[0]) * 1000 / len(sent),
        worker_cpu_ms=(cpu_after[1] - cpu_before[1]) * 1000 / len(sent),  # every subscription
    )


def _percentile(sorted_values: list[float], percent: float) -> float:
    if not sorted_values:
        return float("nan")
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=100, method="inclusive")[int(percent) - 1]


# --- (c) Statements and worker cost -------------------------------------------------------


def _statements_per_add(skus: list[str]) -> dict[str, tuple[int, int]]:
    """(statements, commits) of one add's request, per kind of client, in this process
    (the relay runs on its own thread and connection: not counted). A new guest's session
    is written in a transaction of its own, after the add's."""
    from django.db import connection
    from django.test import Client as TestClient
    from django.test.utils import CaptureQueriesContext

    def count(client: TestClient, headers: dict[str, str]) -> tuple[int, int]:
        body = json.dumps({"sku": skus[0], "quantity": 1})
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                "/api/cart/items/", body, content_type="application/json", headers=headers
            )
        if response.status_code != 202:
            raise SystemExit(f"statement count: {response.status_code} {response.content[:200]}")
        sql = [query["sql"] for query in queries.captured_queries]
        return len([s for s in sql if s not in ("BEGIN", "COMMIT")]), sql.count("COMMIT")

    guest = TestClient(SERVER_NAME="localhost")
    count(guest, {})  # makes the cart and the session
    token = _token_clients("statements", 1)[0].headers
    return {
        "guest": count(guest, {}),
        "new": count(TestClient(SERVER_NAME="localhost"), {}),
        "token": count(TestClient(SERVER_NAME="localhost"), token),
    }


@dataclass
class WorkerCost:
    batch: int
    subscriptions: list[str]
    statements_per_add: float
    cpu_ms_per_add: float


def _worker_costs(skus: list[str]) -> list[WorkerCost]:
    """What the worker spends per event: both cart subscriptions delivering batches of
    events of distinct carts, as the relay hands them over (in this process)."""
    from django.db import connection
    from django.test import Client as TestClient
    from django.test.utils import CaptureQueriesContext

    from eventbus.delivery import Result, deliver_batch
    from eventbus.models import OutboxEvent

    costs = []
    for size in BATCH_SIZES:
        before = set(OutboxEvent.objects.values_list("pk", flat=True))
        for _ in range(size):
            TestClient(SERVER_NAME="localhost").post(
                "/api/cart/items/", json.dumps({"sku": skus[1], "quantity": 1}),
                content_type="application/json",
            )  # fmt: skip
        batch = [(row.envelope, 1) for row in OutboxEvent.objects.exclude(pk__in=before)]
        subscriptions = _subscriptions_of(batch[0][0])
        started = time.process_time()
        with CaptureQueriesContext(connection) as queries:
            for subscription in subscriptions:
                outcomes = deliver_batch(subscription, batch)
                if {outcome.result for outcome in outcomes} != {Result.HANDLED}:
                    raise SystemExit(f"{subscription}: {outcomes}")
        cpu = time.process_time() - started
        adds = len(batch)
        costs.append(
            WorkerCost(size, subscriptions, len(queries.captured_queries) / adds, cpu * 1000 / adds)
        )
    return costs


def _subscriptions_of(envelope: dict) -> list[str]:
    """The subscriptions an add's event reaches (the worker runs each of them for it)."""
    from eventbus.subscriptions import matching_subscriptions

    return [subscription.name for subscription in matching_subscriptions(envelope)]


# --- Report ------------------------------------------------------------------------------


def _report(
    front: dict[tuple[str, str], list[LoadResult]],
    capacity: dict[str, list[Step]],
    statements: dict[str, tuple[int, int]],
    worker_costs: list[WorkerCost],
) -> None:
    if front:
        _report_front(front)
    if capacity:
        _report_capacity(capacity)
    if statements:
        _report_statements(statements, worker_costs)


def _verdict(value: float, sense: str, goal: float) -> str:
    met = value >= goal if sense == ">=" else value <= goal
    return f"{sense} {goal:g}: {'met' if met else 'NOT met'}"


def _report_front(front: dict[tuple[str, str], list[LoadResult]]) -> None:
    def median(runs: list[LoadResult], attribute: str) -> float:
        return statistics.median(getattr(run, attribute) for run in runs)

    def ratios(kind: str, baseline: str, attribute: str) -> list[float]:
        return [
            getattr(top, attribute) / getattr(bottom, attribute)
            for top, bottom in zip(front[kind, "accepted"], front[kind, baseline], strict=True)
        ]

    print()
    print(f"  (a) Front door, consumers stopped: wrk, {WRK_CONNECTIONS} connections, "
          f"median of {ROUNDS} interleaved rounds of {SECONDS}s")  # fmt: skip
    print(f"  {'client':<46}{'endpoint':<26}{'req/s':>7}{'p50 ms':>8}{'p99 ms':>8}")
    for kind, label in KINDS.items():
        for endpoint, (_, endpoint_label) in ENDPOINTS.items():
            runs = front[kind, endpoint]
            print(f"  {label:<46}{endpoint_label:<26}{median(runs, 'per_second'):>7.0f}"
                  f"{median(runs, 'p50_ms'):>8.1f}{median(runs, 'p99_ms'):>8.1f}")  # fmt: skip
    print()
    print(f"  {'202 add, ratio to':<46}{'':<26}{'median':>7}  per round; goal")
    for kind, label in KINDS.items():
        for title, baseline, attribute, sense, goal in [
            ("synchronous add, throughput", "synchronous", "per_second", ">=", GOAL_VS_SYNC),
            ("bare DRF, throughput", "constant", "per_second", ">=", GOAL_VS_CONSTANT),
            ("bare DRF, p99 at saturation", "constant", "p99_ms", "<=", GOAL_P99_VS_CONSTANT),
        ]:
            values = ratios(kind, baseline, attribute)
            value = statistics.median(values)
            rounds = " ".join(f"{item:.2f}" for item in values)
            print(
                f"  {label:<46}{title:<26}{value:>7.2f}  {rounds}; {_verdict(value, sense, goal)}"
            )


def _report_capacity(capacity: dict[str, list[Step]]) -> None:
    print()
    print(f"  (b) Capacity: open loop, web + relay + Celery worker ({WORKER_POOL} pool, "
          f"concurrency {WORKER_CONCURRENCY}) on this machine, {STEP_SECONDS}s per step after "
          f"{WARMUP_SECONDS}s warm-up, each add to its own cart")  # fmt: skip
    print(f"  {'':<18}{'offered':>8}{'achieved':>9}{'visible':>13}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'202 p99':>8}{'web CPU ms':>11}{'worker CPU ms':>14}")  # fmt: skip
    best: dict[str, float] = {}
    for endpoint, steps in capacity.items():
        for step in steps:
            label = "202 add: visible" if endpoint == "accepted" else "sync add: answer"
            worker = f"{step.worker_cpu_ms:>14.2f}" if endpoint == "accepted" else f"{'':>14}"
            print(f"  {label:<18}{step.offered:>8g}{step.achieved:>9.0f}"
                  f"{f'{step.visible}/{step.samples}':>13}{_percentile(step.visible_ms, 50):>8.1f}"
                  f"{_percentile(step.visible_ms, 99):>8.1f}{_percentile(step.answer_ms, 99):>8.1f}"
                  f"{step.web_cpu_ms:>11.2f}{worker}")  # fmt: skip
            if step.keeps_up():
                best[endpoint] = max(best.get(endpoint, 0.0), step.offered)
    accepted, synchronous = best.get("accepted", 0.0), best.get("synchronous", 0.0)
    print(f"  highest rate with every add visible, p99 < {VISIBLE_P99_MS:g} ms: 202 add "
          f"{accepted:g}/s, synchronous add {synchronous:g}/s; ratio "
          f"{accepted / synchronous if synchronous else float('nan'):.2f} "
          f"{_verdict(accepted / synchronous if synchronous else 0, '>=', 1.0)}")  # fmt: skip
    at_50 = next((step for step in capacity["accepted"] if step.offered == 50), None)
    if at_50 is not None:
        p99 = _percentile(at_50.visible_ms, 99)
        print(f"  accept-to-visible p99 at 50 adds/s: {p99:.1f} ms, "
              f"{at_50.visible}/{at_50.samples} visible "
              f"({_verdict(p99, '<=', VISIBLE_P99_MS)})")  # fmt: skip


def _report_statements(
    statements: dict[str, tuple[int, int]], worker_costs: list[WorkerCost]
) -> None:
    print()
    print("  (c) SQL statements per accepted add (besides BEGIN and COMMIT), and commits")
    for kind, label in KINDS.items():
        count, commits = statements[kind]
        extra = f"  ({_verdict(count, '<=', GOAL_STATEMENTS)})" if kind == "guest" else ""
        print(f"  {label:<46}{count:>3} statements, {commits} commit(s){extra}")
    names = " + ".join(worker_costs[0].subscriptions)
    print(f"  Worker, per accepted add: each subscription it reaches ({names}), one batch each")
    print(f"  {'batch of':>10}{'statements':>12}{'CPU ms':>9}")
    for cost in worker_costs:
        print(f"  {cost.batch:>10}{cost.statements_per_add:>12.2f}{cost.cpu_ms_per_add:>9.2f}")


# --- Processes -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (gunicorn's or celery's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    for process in [pid, *map(int, children.split())]:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


class Gunicorn:
    """The web server as config/gunicorn.py configures it (the same as `make run`)."""

    def __init__(self, *, env: dict[str, str], log_path: Path) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"],
            cwd=ROOT, env=self._env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        _wait_for(lambda: _healthy(self.url), self.process, log_path, "gunicorn")

    def describe(self) -> str:
        script = (
            "import runpy; c = runpy.run_path('config/gunicorn.py'); "
            "print(f\"{c['workers']} {c['worker_class']} workers x {c['threads']} threads\")"
        )
        return subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=self._env, capture_output=True,
            text=True, check=True,
        ).stdout.strip()  # fmt: skip

    relay: RelayProcess | None = None  # counted with the web: it relays the web's events

    def cpu_seconds(self) -> float:
        relay = self.relay.cpu_seconds() if self.relay else 0.0
        return _tree_cpu_seconds(self.process.pid) + relay

    def stop(self) -> None:
        _stop_group(self.process)
        self._log.close()


class _Process:
    """A process of the shop on config.settings, started and waited for until its log
    says ``ready``; its CPU counts its children."""

    def __init__(self, command: list[str], *, env: dict[str, str], log_path: Path,
                 ready: bytes, name: str) -> None:  # fmt: skip
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        _wait_for(lambda: ready in log_path.read_bytes(), self.process, log_path, name)

    def cpu_seconds(self) -> float:
        return _tree_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        _stop_group(self.process)
        self._log.close()


class RelayProcess(_Process):
    """One ``manage.py relay_events`` for all web processes (BENCH_RELAY=process)."""

    def __init__(self, *, env: dict[str, str], log_path: Path) -> None:
        command = [sys.executable, "manage.py", "relay_events", f"--linger={RELAY_LINGER}"]
        super().__init__(command, env=env, log_path=log_path, ready=b"relaying every", name="relay")


class CeleryWorker(_Process):
    def __init__(self, *, env: dict[str, str], log_path: Path) -> None:
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING",
            f"--concurrency={WORKER_CONCURRENCY}", f"--pool={WORKER_POOL}", "--without-gossip",
            "--without-mingle", "--without-heartbeat", f"--hostname=bench-{os.getpid()}@%h",
        ]  # fmt: skip
        super().__init__(command, env=env, log_path=log_path, ready=b"ready.", name="worker")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _wait_for(
    ready: Callable[[], bool], process: subprocess.Popen, log_path: Path, name: str
) -> None:
    deadline = time.monotonic() + 30
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            _stop_group(process)
            raise SystemExit(f"{name} did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.1)


def _stop_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
