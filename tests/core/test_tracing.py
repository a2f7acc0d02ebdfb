"""Tracing's set-up (off unless an exporter is configured; OTLP over HTTP when it is) and
the W3C trace context rules (core/tracing.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from core import tracing
from core.tracing import trusted_trace_context

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
ROOT = Path(__file__).resolve().parents[2]


def settings_tracing(env: dict[str, str]) -> dict[str, str]:
    """``settings.TRACING`` as a fresh process reads it from ``env``."""
    code = "import json, config.settings as s; print(json.dumps(s.TRACING))"
    clean = {key: value for key, value in os.environ.items() if "OTEL" not in key}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_tracing_is_off_by_default_and_on_with_an_otlp_endpoint():
    assert settings_tracing({})["EXPORTER"] == "none"
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert settings_tracing(endpoint)["EXPORTER"] == "otlp"
    traces_only = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}
    assert settings_tracing(traces_only)["EXPORTER"] == "otlp"
    assert settings_tracing({**endpoint, "OTEL_TRACES_EXPORTER": "none"})["EXPORTER"] == "none"
    assert settings_tracing({"OTEL_TRACES_EXPORTER": "console"})["EXPORTER"] == "console"


def test_without_an_exporter_nothing_is_set_up(monkeypatch):
    monkeypatch.setattr(tracing, "use_tracer_provider", pytest.fail)
    tracing.configure_tracing({"EXPORTER": "none", "SERVICE_NAME": "x"})
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    tracing.configure_tracing({"EXPORTER": "otlp", "SERVICE_NAME": "x"})
    assert not tracing.tracing_enabled()
    assert tracing.current_trace_context() == {}


def test_an_unknown_exporter_is_refused():
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER"):
        tracing.build_exporter("jaeger")


class _Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP trace receiver: keeps every export request it is sent."""

    received: list[tuple[str, ExportTraceServiceRequest]] = []

    def do_POST(self) -> None:  # the name http.server calls
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.received.append((self.path, request))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector():
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    _Collector.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _Collector.received
    server.shutdown()


@pytest.mark.django_db
def test_with_an_otlp_endpoint_the_spans_are_exported_over_otlp_http(
    collector, monkeypatch, catalog, deliver
):
    from rest_framework.test import APIClient

    endpoint, received = collector
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    # Not the process-wide provider: the test process keeps its own.
    monkeypatch.setattr(tracing.trace, "set_tracer_provider", lambda provider: None)
    tracing.configure_tracing(
        {"EXPORTER": "otlp", "SERVICE_NAME": "shop-test", "EXCLUDED_URLS": "/healthz"}
    )
    provider = tracing._provider
    try:
        client = APIClient()
        assert client.get("/healthz").status_code in (200, 503)
        response = client.post("/api/cart/items/", {"sku": "COF-001", "quantity": 1}, format="json")
        assert response.status_code == 202
        deliver()
        assert provider.force_flush(timeout_millis=10_000)
    finally:
        tracing.use_tracer_provider(None)
        provider.shutdown()

    assert received and {path for path, _ in received} == {"/v1/traces"}
    spans = {}
    for _, request in received:
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            assert attributes["service.name"] == "shop-test"
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    spans.setdefault(span.name, []).append(span)
    [request_span] = spans["POST api/cart/items/"]
    [projection] = spans["eventbus.deliver cart-projection"]
    assert projection.trace_id == request_span.trace_id
    assert projection.parent_span_id == request_span.span_id
    assert not [name for name in spans if "healthz" in name]  # excluded: no span


@pytest.mark.parametrize(
    ("detail", "trusted"),
    [
        ({"traceparent": VALID}, {"traceparent": VALID}),
        (
            {"traceparent": VALID, "tracestate": "rojo=00f067aa0ba902b7 ,congo=t61rcWkgMzE"},
            {"traceparent": VALID, "tracestate": "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
        ),
        ({"traceparent": VALID, "tracestate": "rojo=1,rojo=2"}, {"traceparent": VALID}),
        ({"traceparent": VALID, "tracestate": ""}, {"traceparent": VALID}),
        ({"tracestate": "rojo=1"}, {}),
        ({"traceparent": VALID.upper()}, {}),
        ({"traceparent": VALID + "\n"}, {}),
        ({"traceparent": VALID[:-1]}, {}),
        ({}, {}),
    ],
)
def test_only_a_valid_trace_context_is_trusted(detail, trusted):
    assert trusted_trace_context(detail) == trusted


def test_a_long_tracestate_keeps_its_leading_members_within_512_characters():
    members = ",".join(f"k{number}={'v' * 100}" for number in range(8))
    kept = tracing._shortened(members)
    assert len(kept) <= 512
    assert members.startswith(kept)
    assert kept.count(",") == 3  # four members of 104 characters, and their commas
