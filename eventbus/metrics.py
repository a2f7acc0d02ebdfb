"""The bus's process metrics (Prometheus), and the calls that move them.

Delivery and the relay report here through the functions below, never through the metric
objects, so the names, labels and buckets are decided in one place and a transport cannot
count the same thing twice under another name. The counters sit in prometheus_client's
multiprocess files (core/metrics.py): a Celery child or a consumer thread counts, and any
web process's ``/metrics`` shows it. What the database knows (the outbox, dead letters) is
read at scrape time instead: ``eventbus.status``.

Label values are bounded: subscriptions and backends are declared in code, outcomes are
the four of ``delivery.Result``.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DELIVERIES = Counter(
    "eventbus_deliveries",
    "Delivery attempts of an event to a subscription, by outcome: handled, duplicate "
    "(already processed), retry, dead letter.",
    ["subscription", "outcome"],
)
HANDLER_DURATION = Histogram(
    "eventbus_handler_duration_seconds",
    "Time one call of a subscription's handler ran (one event, or a batch of them), "
    "whether it returned or raised.",
    ["subscription"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RELAY_PUBLISHED = Counter(
    "eventbus_relay_published",
    "Outbox events the relay handed to the bus backend, which accepted them.",
    ["backend"],
)
RELAY_FAILURES = Counter(
    "eventbus_relay_failures",
    "Outbox events the bus backend did not take: 'retry' (the row waits for another pass) "
    "or 'rejected' (a (publish) dead letter).",
    ["backend", "outcome"],
)

DELIVERY_OUTCOMES = ("handled", "duplicate", "retry", "dead letter")
RELAY_FAILURE_OUTCOMES = ("retry", "rejected")


def delivery_observed(*, subscription: str, outcome: str, events: int = 1) -> None:
    """``events`` delivery attempts to ``subscription`` ended with ``outcome`` (a
    ``delivery.Result`` value): one call per outcome of a batch is enough."""
    if outcome not in DELIVERY_OUTCOMES:
        raise ValueError(f"unknown delivery outcome {outcome!r}; one of {DELIVERY_OUTCOMES}")
    if events:
        DELIVERIES.labels(subscription=subscription, outcome=outcome).inc(events)


def handler_observed(*, subscription: str, seconds: float) -> None:
    """One call of ``subscription``'s handler took ``seconds`` (time it around the call,
    whether it handles one event or a batch; a duplicate calls nothing)."""
    HANDLER_DURATION.labels(subscription=subscription).observe(seconds)


def relay_observed(*, backend: str, published: int, retrying: int = 0, rejected: int = 0) -> None:
    """One relay pass (or batch) through ``backend`` (its ``label``): how many events it
    took, how many wait for a retry and how many it refused for good."""
    if published:
        RELAY_PUBLISHED.labels(backend=backend).inc(published)
    if retrying:
        RELAY_FAILURES.labels(backend=backend, outcome="retry").inc(retrying)
    if rejected:
        RELAY_FAILURES.labels(backend=backend, outcome="rejected").inc(rejected)
