"""Prometheus metrics: ``GET /metrics`` (not public: a bearer token or an allowed network),
the HTTP request metrics, and the scrape that merges every process's samples.

Counters live in prometheus_client's multiprocess files (``PROMETHEUS_MULTIPROC_DIR``, which
settings export before anything imports prometheus_client): every gunicorn worker and every
Celery prefork child writes its own file there and a scrape sums them, so any one web worker
answers for all the processes of its host. Figures kept in the database (outbox, dead
letters, reminders) are read at scrape time by collectors that apps register here, the way
they register their health checks; ``core`` imports no app.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from http import HTTPMethod

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

# A scrape-time collector: yields metric families computed now (from the database).
ScrapeCollector = Callable[[], Iterable[Metric]]

_scrape_collectors: dict[str, ScrapeCollector] = {}

# The standard methods; anything else a client invents is counted as "other".
HTTP_METHODS = frozenset(method.value for method in HTTPMethod)
# Requests that matched no URL pattern (404s, static files served by WhiteNoise) share one
# label: a label per path would let any client create series without bound.
UNRESOLVED_VIEW = "<unresolved>"

HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by view (URL name), method and status code.",
    ["view", "method", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by view (URL name).",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def register_collector(name: str, collector: ScrapeCollector) -> None:
    """Run ``collector`` at every scrape under ``name`` (registering a name again replaces
    it). Its figures come from one process, the one answering the scrape, so it should read
    shared state (the database), not process memory."""
    _scrape_collectors[name] = collector


def multiprocess_directory() -> str:
    """The directory of the processes' sample files; '' when this process counts alone."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


class _ScrapeTimeCollectors:
    """The registered collectors, each isolated: one that fails (database down) reports
    ``metrics_collector_up 0`` instead of failing the whole scrape."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "metrics_collector_up",
            "1 when the scrape-time collector could read its figures.",
            labels=["collector"],
        )
        for name, collector in sorted(_scrape_collectors.items()):
            try:
                metrics = list(collector())
            except DatabaseError as error:
                logger.warning("metrics collector %s failed: %s", name, error)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from metrics
        yield up


class _ProcessRegistry:
    """This process's own metrics, when there is no multiprocess directory."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def scrape_registry() -> CollectorRegistry:
    """A registry holding everything one scrape shows."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_directory():
        MultiProcessCollector(registry)
    else:
        registry.register(_ProcessRegistry())
    registry.register(_ScrapeTimeCollectors())
    return registry


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr)
    except ValueError as error:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: {error}") from error


def metrics_access_allowed(request: HttpRequest) -> bool:
    """A matching ``Authorization: Bearer <METRICS_TOKEN>``, or a client address inside
    ``METRICS_ALLOWED_NETWORKS``. ``REMOTE_ADDR`` is the peer that connected: behind a load
    balancer that is the balancer, so allow only networks the public cannot come from."""
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), token.encode()
        ):
            return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    networks = _networks(tuple(settings.METRICS_ALLOWED_NETWORKS))
    return any(address in network for network in networks)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus's text format, or 403 for anyone without the token or the network."""
    if not metrics_access_allowed(request):
        return HttpResponseForbidden(
            "Forbidden: /metrics needs its token or an allowed network.\n",
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)


class RequestMetricsMiddleware:
    """Counts and times every response by the URL name of its view (first in the chain, so
    static files and refusals by later middleware are counted too)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name if match is not None else "") or UNRESOLVED_VIEW
        method = request.method if request.method in HTTP_METHODS else "other"
        HTTP_REQUESTS.labels(view=view, method=method, status=str(response.status_code)).inc()
        HTTP_REQUEST_DURATION.labels(view=view).observe(time.perf_counter() - started)
        return response
