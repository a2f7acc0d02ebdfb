"""Add-to-cart over HTTP, under gunicorn on PostgreSQL, measured in one run.

1. Throughput and latency (wrk, closed loop, warm-up first) of the 202 add-to-cart API
   against two baselines on the same server: a bare DRF endpoint answering constant JSON,
   and a synchronous add that writes the cart line inside the request
   (``bench/_http_urls.py``). Each request is a different user's token, so every cart is
   separate and no per-cart limit or throttle bites. No Celery worker runs here: this
   is the request path alone (the deliver tasks wait in the scratch Redis db).
2. Accept-to-visible latency through Celery on Redis: a real worker runs, a client sends
   adds at a steady rate (open loop), and a poller watches the carts in the database
   until each one's ``last_event_id`` is the accepted event.

Scratch PostgreSQL database ``bench_cart_http`` and Redis db 14 (flushed); see the
``BENCH_*`` variables below for the knobs.
"""

from __future__ import annotations

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
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path

from bench._django import setup

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("BENCH_CART_REDIS_URL", "redis://127.0.0.1:6379/14")
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "4"))
WRK_THREADS = int(os.environ.get("BENCH_WRK_THREADS", "2"))
WRK_CONNECTIONS = int(os.environ.get("BENCH_WRK_CONNECTIONS", "16"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WARMUP_SECONDS = int(os.environ.get("BENCH_WARMUP_SECONDS", "3"))
RATE = float(os.environ.get("BENCH_RATE", "50"))
VISIBLE_SECONDS = int(os.environ.get("BENCH_VISIBLE_SECONDS", "20"))
WORKER_CONCURRENCY = int(os.environ.get("BENCH_WORKER_CONCURRENCY", "2"))
USERS_PER_ENDPOINT = 500

# (key, path, label): the 202 API and its two baselines, all POST with a token.
ENDPOINTS = [
    ("constant", "/bench/constant/", "constant JSON, bare DRF APIView (baseline)"),
    ("accepted", "/api/cart/items/", "add-to-cart 202 (outbox, relay to Redis)"),
    ("synchronous", "/bench/cart/items/", "add-to-cart synchronous (line in request)"),
]

GOAL_THROUGHPUT_VS_CONSTANT = 0.7
GOAL_P99_VS_CONSTANT = 2.0
GOAL_THROUGHPUT_VS_SYNC = 1.0
GOAL_VISIBLE_P99_MS = 100.0


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


@dataclass
class Visibility:
    samples: int
    visible: int
    rate: float
    latencies_ms: list[float]
    accept_ms: list[float]
    failures: list[str]


def main() -> None:
    media = tempfile.mkdtemp(prefix="bench-media-")
    settings_env = {
        "CELERY_BROKER_URL": REDIS_URL,
        "EVENT_BUS_BACKEND": "celery",
        "CART_ADD_THROTTLE_RATE": "10000000/min",
        "MEDIA_ROOT": media,
        "DEBUG": "0",
        "STATIC_MANIFEST": "0",
        "LOG_LEVEL": "WARNING",
    }
    database_url = setup(database="bench_cart_http", env=settings_env)
    import redis

    from shop.models import Product
    from shop.services import catalog_seed_demo

    catalog_seed_demo()
    skus = list(Product.objects.filter(active=True, stock__gt=0).values_list("sku", flat=True))
    scratch_redis = redis.Redis.from_url(REDIS_URL)
    scratch_redis.flushdb()
    env = {
        **os.environ,
        **settings_env,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "bench._http_settings",
    }
    logs = Path(tempfile.mkdtemp(prefix="bench-cart-http-"))
    print(
        f"gunicorn {WEB_WORKERS} sync workers; wrk {WRK_THREADS} threads, {WRK_CONNECTIONS} "
        f"connections; {WARMUP_SECONDS}s warm-up, then {ROUNDS} interleaved rounds of "
        f"{SECONDS}s per endpoint; celery worker concurrency {WORKER_CONCURRENCY}",
        flush=True,
    )
    server = Gunicorn(env=env, log_path=logs / "gunicorn.log")
    try:
        loads = _throughput(server.url, skus)
        # The deliver tasks of the throughput runs would be a backlog for the worker.
        scratch_redis.flushdb()
        worker = CeleryWorker(env=env, log_path=logs / "worker.log")
        try:
            visible = _accept_to_visible(server.url, skus, database_url)
        finally:
            worker.stop()
    finally:
        server.stop()
        scratch_redis.flushdb()
    _report(loads, visible)
    print(f"  (server and worker logs in {logs})")


# --- Load generation --------------------------------------------------------------------

WRK_SCRIPT = """
local tokens = {%(tokens)s}
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
  local token = tokens[(n %% #tokens) + 1]
  local sku = skus[(math.floor(n / #tokens) %% #skus) + 1]
  return wrk.format("POST", nil, {
    ["Authorization"] = "Token " .. token,
    ["Content-Type"] = "application/json",
  }, '{"sku": "' .. sku .. '", "quantity": 1}')
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


def _throughput(base: str, skus: list[str]) -> dict[str, list[LoadResult]]:
    """Warm each endpoint up, then measure them in interleaved rounds (load on a shared
    machine drifts; adjacent runs see the same conditions)."""
    scripts = {}
    for key, _, _ in ENDPOINTS:
        scripts[key] = _wrk_script(_tokens(key), skus)
    try:
        for key, path, _ in ENDPOINTS:
            _wrk(base + path, scripts[key], WARMUP_SECONDS)
        results: dict[str, list[LoadResult]] = {key: [] for key, _, _ in ENDPOINTS}
        for _ in range(ROUNDS):
            for key, path, _ in ENDPOINTS:
                results[key].append(_wrk(base + path, scripts[key], SECONDS))
    finally:
        for script in scripts.values():
            os.unlink(script)
    _check_work_done(results)
    return results


def _wrk_script(tokens: list[str], skus: list[str]) -> str:
    """A wrk script posting ``{"sku": ..., "quantity": 1}``, each request another user."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            WRK_SCRIPT
            % {
                "tokens": ", ".join(f'"{token}"' for token in tokens),
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


def _tokens(phase: str, count: int = USERS_PER_ENDPOINT) -> list[str]:
    """``count`` new users, each with an API token (one cart each)."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        user_model(username=f"bench-{phase}-{number}", password="!") for number in range(count)
    )
    tokens = Token.objects.bulk_create(Token(user=user, key=Token.generate_key()) for user in users)
    return [token.key for token in tokens]


def _check_work_done(results: dict[str, list[LoadResult]]) -> None:
    """The requests did their work: an outbox row per 202, a line unit per synchronous add."""
    from django.db.models import Sum

    from cart.models import CartLine
    from eventbus.models import OutboxEvent

    events = OutboxEvent.objects.filter(detail_type="ItemAddedToCart").count()
    units = CartLine.objects.aggregate(total=Sum("quantity"))["total"] or 0
    accepted = sum(result.requests for result in results["accepted"])
    synchronous = sum(result.requests for result in results["synchronous"])
    if events < accepted or units < synchronous:
        raise SystemExit(
            f"requests without effect: {events} outbox rows for {accepted} measured 202s, "
            f"{units} line units for {synchronous} measured synchronous adds"
        )


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


def _accept_to_visible(base: str, skus: list[str], database_url: str) -> Visibility:
    """Open-loop adds at RATE per second, each to a new cart: the time from sending the
    POST until the projection has committed that event to the cart (``last_event_id``)."""
    import psycopg

    host, port = base.removeprefix("http://").split(":")
    total = int(RATE * (WARMUP_SECONDS + VISIBLE_SECONDS))
    tokens = _tokens("visible", total)
    sent_at = [0.0] * total
    accept_ms = [0.0] * total
    event_ids: dict[int, str] = {}
    applied_at: dict[str, float] = {}
    failures: list[str] = []
    lock = threading.Lock()
    next_index = 0
    sending_done = threading.Event()

    def send() -> None:
        nonlocal next_index
        connection = HTTPConnection(host, int(port), timeout=30)
        while True:
            with lock:
                index = next_index
                next_index += 1
            if index >= total:
                return
            delay = start + index / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            body = json.dumps({"sku": skus[index % len(skus)], "quantity": 1})
            headers = {
                "Authorization": f"Token {tokens[index]}",
                "Content-Type": "application/json",
            }
            sent_at[index] = time.monotonic()
            connection.request("POST", "/api/cart/items/", body, headers)
            response = connection.getresponse()
            payload = response.read()
            accept_ms[index] = (time.monotonic() - sent_at[index]) * 1000
            if response.status == 202:
                event_ids[index] = json.loads(payload)["event_id"]
            else:
                failures.append(f"{response.status} {payload[:200]!r}")

    def listen() -> None:
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute("LISTEN bench_cart_applied")
            listening.set()
            deadline = None
            while deadline is None or time.monotonic() < deadline:
                for notice in connection.notifies(timeout=0.5):
                    applied_at[notice.payload] = time.monotonic()
                if sending_done.is_set():
                    deadline = deadline or time.monotonic() + 10
                    if all(event_id in applied_at for event_id in event_ids.values()):
                        return

    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(NOTIFY_ON_APPLY)
    listening = threading.Event()
    listener = threading.Thread(target=listen)
    listener.start()
    listening.wait(10)
    start = time.monotonic() + 0.5
    # Enough senders that a slow 202 never holds back the schedule (open loop).
    senders = [threading.Thread(target=send) for _ in range(max(8, int(RATE)))]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    sending_done.set()
    listener.join()

    measured = range(int(RATE * WARMUP_SECONDS), total)
    visible = [
        (applied_at[event_ids[index]] - sent_at[index]) * 1000
        for index in measured
        if event_ids.get(index) in applied_at
    ]
    return Visibility(
        samples=len(measured),
        visible=len(visible),
        rate=(len(measured) - 1) / (sent_at[total - 1] - sent_at[measured.start]),
        latencies_ms=sorted(visible),
        accept_ms=sorted(accept_ms[index] for index in measured),
        failures=failures,
    )


def _percentile(sorted_values: list[float], percent: float) -> float:
    if not sorted_values:
        return float("nan")
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=100, method="inclusive")[int(percent) - 1]


# --- Report ------------------------------------------------------------------------------


def _report(loads: dict[str, list[LoadResult]], visible: Visibility) -> None:
    def median(key: str, field: str) -> float:
        return statistics.median(getattr(result, field) for result in loads[key])

    def ratios(numerator: str, denominator: str, field: str) -> list[float]:
        """Per round (adjacent runs), so drifting load on the machine cancels out."""
        return [
            getattr(top, field) / getattr(bottom, field)
            for top, bottom in zip(loads[numerator], loads[denominator], strict=True)
        ]

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print()
    print(f"  {'POST, token auth, median of rounds':<46}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'errors':>8}")  # fmt: skip
    for key, _, label in ENDPOINTS:
        errors = sum(result.errors for result in loads[key])
        print(
            f"  {label:<46}{median(key, 'per_second'):>8.0f}{median(key, 'p50_ms'):>9.1f}"
            f"{median(key, 'p99_ms'):>9.1f}{errors:>8}"
        )
    print()
    goals = [
        ("add-to-cart / constant, throughput", "constant", "per_second",
         GOAL_THROUGHPUT_VS_CONSTANT, ">="),
        ("add-to-cart / constant, p99 latency", "constant", "p99_ms", GOAL_P99_VS_CONSTANT, "<="),
        ("add-to-cart / synchronous add, throughput", "synchronous", "per_second",
         GOAL_THROUGHPUT_VS_SYNC, ">="),
    ]  # fmt: skip
    print(f"  {'ratio (per round; median)':<46}{'median':>8}   {'rounds':<20}goal")
    for label, baseline, field, goal, sense in goals:
        values = ratios("accepted", baseline, field)
        value = statistics.median(values)
        ok = value >= goal if sense == ">=" else value <= goal
        rounds = " ".join(f"{item:.2f}" for item in values)
        print(f"  {label:<46}{value:>8.2f}   {rounds:<20}{sense} {goal}  {verdict(ok)}")
    print()
    latencies = visible.latencies_ms
    p99 = _percentile(latencies, 99)
    print(
        f"  accept-to-visible through Celery on Redis, real worker, {visible.rate:.1f} req/s "
        f"open loop, after {WARMUP_SECONDS}s warm-up:"
    )
    print(
        f"    {visible.visible}/{visible.samples} adds visible; p50 "
        f"{_percentile(latencies, 50):.1f} ms  p99 {p99:.1f} ms  max "
        f"{latencies[-1] if latencies else float('nan'):.1f} ms  "
        f"(goal p99 < {GOAL_VISIBLE_P99_MS:.0f} ms)  {verdict(p99 < GOAL_VISIBLE_P99_MS)}"
    )
    print(
        f"    the 202 itself at that rate: p50 {_percentile(visible.accept_ms, 50):.1f} ms  "
        f"p99 {_percentile(visible.accept_ms, 99):.1f} ms"
    )
    if visible.failures:
        print(f"    {len(visible.failures)} adds not accepted, e.g. {visible.failures[0]}")


# --- Processes -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    def __init__(self, *, env: dict[str, str], log_path: Path) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "config.wsgi", f"--bind=127.0.0.1:{port}",
                f"--workers={WEB_WORKERS}", "--backlog=2048", "--graceful-timeout=2",
            ],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"gunicorn did not start:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)

    def stop(self) -> None:
        _stop_group(self.process)
        self._log.close()


class CeleryWorker:
    def __init__(self, *, env: dict[str, str], log_path: Path) -> None:
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO",
                f"--concurrency={WORKER_CONCURRENCY}", "--pool=prefork", "--without-gossip",
                "--without-mingle", "--without-heartbeat", f"--hostname=bench-{os.getpid()}@%h",
            ],
            cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while b"ready." not in log_path.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"celery worker did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        _stop_group(self.process)
        self._log.close()


def _stop_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
