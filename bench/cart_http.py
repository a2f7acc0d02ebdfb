"""Add-to-cart over HTTP, under gunicorn on PostgreSQL, measured in one run.

1. Throughput (wrk, closed loop, warm-up first, interleaved rounds) of the 202
   add-to-cart API against two baselines on the same server: a bare DRF endpoint
   answering constant JSON, and a synchronous add that writes the cart line inside the
   request (both in ``bench/_http_urls.py``, served only by this bench). Each request is
   another user's token, so every cart is separate and no per-cart limit or throttle
   bites. No Celery worker runs here: this is the request path alone.
2. Latency of the same three at one fixed, light rate (open loop), for the p99 ratio.
3. Accept-to-visible through Celery on Redis: a real worker runs, a client sends adds at
   a steady rate (open loop; at a light rate, then at the goal's 50 per second), and a
   database notification marks the moment the projection commits each event.

Scratch PostgreSQL database ``bench_cart_http`` and Redis db 14 (flushed); the
``BENCH_*`` variables below are the knobs.
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
LATENCY_RATE = float(os.environ.get("BENCH_LATENCY_RATE", "10"))
# Accept-to-visible is also measured at this light rate: the pipeline's own latency.
LOW_RATE = float(os.environ.get("BENCH_LOW_RATE", "10"))
LOW_RATE_SECONDS = int(os.environ.get("BENCH_LOW_RATE_SECONDS", "10"))
LATENCY_SECONDS = int(os.environ.get("BENCH_LATENCY_SECONDS", "15"))
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
    offered: float
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
    load_before = os.getloadavg()[0]
    print(
        f"gunicorn {WEB_WORKERS} sync workers; wrk {WRK_THREADS} threads, {WRK_CONNECTIONS} "
        f"connections; {WARMUP_SECONDS}s warm-up, then {ROUNDS} interleaved rounds of "
        f"{SECONDS}s per endpoint; celery worker concurrency {WORKER_CONCURRENCY}",
        flush=True,
    )
    server = Gunicorn(env=env, log_path=logs / "gunicorn.log")
    try:
        loads = _throughput(server.url, skus)
        latencies = _latency_at_rate(server.url, skus)
        # The deliver tasks of the throughput runs would be a backlog for the worker.
        scratch_redis.flushdb()
        worker = CeleryWorker(env=env, log_path=logs / "worker.log")
        try:
            visible = [
                _accept_to_visible(server.url, skus, database_url, rate=rate, seconds=seconds)
                for rate, seconds in ((LOW_RATE, LOW_RATE_SECONDS), (RATE, VISIBLE_SECONDS))
            ]
        finally:
            worker.stop()
    finally:
        server.stop()
        scratch_redis.flushdb()
    _report(loads, latencies, visible)
    print(
        f"  ({os.cpu_count()} CPUs; 1-minute load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after; server and worker logs in {logs})"
    )


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


@dataclass
class Sent:
    at: float  # time.monotonic() when the request went out
    latency_ms: float
    status: int
    body: bytes


def _open_loop(base: str, path: str, tokens: list[str], skus: list[str], rate: float) -> list[Sent]:
    """POST one add per token at a fixed rate, whatever the answers' latency (open loop:
    a slow answer does not delay the next request, so latency is not under-reported)."""
    host, port = base.removeprefix("http://").split(":")
    results: list[Sent | None] = [None] * len(tokens)
    lock = threading.Lock()
    next_index = 0
    start = time.monotonic() + 0.2

    def send() -> None:
        nonlocal next_index
        connection = HTTPConnection(host, int(port), timeout=30)
        while True:
            with lock:
                index = next_index
                next_index += 1
            if index >= len(tokens):
                return
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            body = json.dumps({"sku": skus[index % len(skus)], "quantity": 1})
            headers = {
                "Authorization": f"Token {tokens[index]}",
                "Content-Type": "application/json",
            }
            sent_at = time.monotonic()
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            payload = response.read()
            results[index] = Sent(
                sent_at, (time.monotonic() - sent_at) * 1000, response.status, payload
            )

    # Enough senders that slow answers never hold back the schedule.
    senders = [threading.Thread(target=send) for _ in range(max(8, int(rate)))]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    return [result for result in results if result is not None]


def _latency_at_rate(base: str, skus: list[str]) -> dict[str, list[float]]:
    """Latency of each endpoint at the same moderate, fixed rate (below saturation): what a
    client waits for an answer, without the queueing of a saturated closed loop."""
    count = int(LATENCY_RATE * LATENCY_SECONDS)
    latencies = {}
    for key, path, _ in ENDPOINTS:
        sent = _open_loop(base, path, _tokens(f"latency-{key}", count), skus, LATENCY_RATE)
        if any(item.status >= 300 for item in sent):
            raise SystemExit(f"{path}: unexpected answers {[s.status for s in sent][:20]}")
        latencies[key] = sorted(item.latency_ms for item in sent[int(LATENCY_RATE) :])
    return latencies


def _accept_to_visible(
    base: str, skus: list[str], database_url: str, *, rate: float, seconds: int
) -> Visibility:
    """Open-loop adds at ``rate`` per second, each to a new cart: the time from sending the
    POST until the projection has committed that event to the cart (``last_event_id``)."""
    import psycopg

    tokens = _tokens(f"visible-{rate:g}", int(rate * (WARMUP_SECONDS + seconds)))
    applied_at: dict[str, float] = {}
    sending_done = threading.Event()
    listening = threading.Event()

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
                    if len(applied_at) >= len(tokens):
                        return

    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(NOTIFY_ON_APPLY)
    listener = threading.Thread(target=listen)
    listener.start()
    listening.wait(10)
    sent = _open_loop(base, "/api/cart/items/", tokens, skus, rate)
    sending_done.set()
    listener.join()

    measured = sent[int(rate * WARMUP_SECONDS) :]
    accepted = [item for item in measured if item.status == 202]
    event_ids = [json.loads(item.body)["event_id"] for item in accepted]
    visible = [
        (applied_at[event_id] - item.at) * 1000
        for item, event_id in zip(accepted, event_ids, strict=True)
        if event_id in applied_at
    ]
    return Visibility(
        offered=rate,
        samples=len(measured),
        visible=len(visible),
        rate=(len(measured) - 1) / (measured[-1].at - measured[0].at),
        latencies_ms=sorted(visible),
        accept_ms=sorted(item.latency_ms for item in measured),
        failures=[f"{item.status} {item.body[:200]!r}" for item in measured if item.status != 202],
    )


def _percentile(sorted_values: list[float], percent: float) -> float:
    if not sorted_values:
        return float("nan")
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=100, method="inclusive")[int(percent) - 1]


# --- Report ------------------------------------------------------------------------------


def _report(
    loads: dict[str, list[LoadResult]],
    latencies: dict[str, list[float]],
    visibilities: list[Visibility],
) -> None:
    def median(key: str, field: str) -> float:
        return statistics.median(getattr(result, field) for result in loads[key])

    def per_round(field: str, baseline: str) -> list[float]:
        """Ratios of adjacent runs, so load drifting on the machine cancels out."""
        return [
            getattr(top, field) / getattr(bottom, field)
            for top, bottom in zip(loads["accepted"], loads[baseline], strict=True)
        ]

    def goal_line(label: str, values: list[float], sense: str, goal: float) -> str:
        value = statistics.median(values)
        met = value >= goal if sense == ">=" else value <= goal
        rounds = " ".join(f"{item:.2f}" for item in values) if len(values) > 1 else ""
        return (
            f"  {label:<50}{value:>6.2f}   {rounds:<16}{sense} {goal:<4} "
            f"{'met' if met else 'NOT met'}"
        )

    print()
    print(
        f"  Throughput: wrk closed loop, {WRK_CONNECTIONS} connections, median of {ROUNDS} rounds"
    )
    print(f"  {'POST with a token':<50}{'req/s':>7}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for key, _, label in ENDPOINTS:
        errors = sum(result.errors for result in loads[key])
        print(
            f"  {label:<50}{median(key, 'per_second'):>7.0f}{median(key, 'p50_ms'):>9.1f}"
            f"{median(key, 'p99_ms'):>9.1f}{errors:>8}"
        )
    print()
    print(f"  Latency at a fixed {LATENCY_RATE:g} req/s, open loop, {LATENCY_SECONDS}s each")
    print(f"  {'':<50}{'':>7}{'p50 ms':>9}{'p99 ms':>9}")
    for key, _, label in ENDPOINTS:
        values = latencies[key]
        print(f"  {label:<50}{'':>7}{_percentile(values, 50):>9.1f}{_percentile(values, 99):>9.1f}")
    print()
    p99_at_rate = _percentile(latencies["accepted"], 99) / _percentile(latencies["constant"], 99)
    print(f"  {'ratio of the 202 add to':<50}{'median':>6}   {'per round':<16}goal")
    print(goal_line("constant JSON, throughput", per_round("per_second", "constant"), ">=",
                    GOAL_THROUGHPUT_VS_CONSTANT))  # fmt: skip
    print(goal_line(f"constant JSON, p99 latency at {LATENCY_RATE:g} req/s", [p99_at_rate], "<=",
                    GOAL_P99_VS_CONSTANT))  # fmt: skip
    print(goal_line("constant JSON, p99 latency at saturation (wrk)",
                    per_round("p99_ms", "constant"), "<=", GOAL_P99_VS_CONSTANT))  # fmt: skip
    print(goal_line("synchronous add, throughput", per_round("per_second", "synchronous"), ">=",
                    GOAL_THROUGHPUT_VS_SYNC))  # fmt: skip
    print()
    print(
        f"  Accept-to-visible through Celery on Redis: real worker (concurrency "
        f"{WORKER_CONCURRENCY}), open loop, {WARMUP_SECONDS}s warm-up, a new cart per add"
    )
    print(f"  {'offered rate':<14}{'achieved':>9}{'visible':>12}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'max ms':>9}{'202 p50':>9}{'202 p99':>9}")  # fmt: skip
    for visible in visibilities:
        latencies_ms = visible.latencies_ms
        print(
            f"  {visible.offered:<14.0f}{visible.rate:>9.1f}"
            f"{f'{visible.visible}/{visible.samples}':>12}"
            f"{_percentile(latencies_ms, 50):>9.1f}{_percentile(latencies_ms, 99):>9.1f}"
            f"{latencies_ms[-1] if latencies_ms else float('nan'):>9.1f}"
            f"{_percentile(visible.accept_ms, 50):>9.1f}{_percentile(visible.accept_ms, 99):>9.1f}"
        )
        if visible.failures:
            print(f"    {len(visible.failures)} adds not accepted, e.g. {visible.failures[0]}")
    at_goal_rate = visibilities[-1]
    p99 = _percentile(at_goal_rate.latencies_ms, 99)
    everything = at_goal_rate.visible == at_goal_rate.samples
    met = p99 < GOAL_VISIBLE_P99_MS and everything
    print(
        f"  p99 at {at_goal_rate.offered:g} req/s: {p99:.1f} ms "
        f"(goal < {GOAL_VISIBLE_P99_MS:.0f} ms, every add visible)  {'met' if met else 'NOT met'}"
    )


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
