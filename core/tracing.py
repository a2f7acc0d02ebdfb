"""Traces: OpenTelemetry set up from settings, and the W3C trace context that events carry.

Tracing is off unless an exporter is configured (``OTEL_TRACES_EXPORTER``: ``otlp`` or
``console``), and off costs next to nothing: no spans, no instrumentation, nothing written
into events. On, a process records the request's span (opentelemetry-instrumentation-django)
and the bus's spans (``eventbus.tracing``), and exports them in the background. The trace
context of the span current when an event is recorded travels in the event
(``traceparent``, ``tracestate``: W3C Trace Context, version 00) and is read back only once
it passed the W3C parser, the way request ids pass ``core.request_id.safe_id``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

logger = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
TRACE_FIELDS = (TRACEPARENT, TRACESTATE)
# W3C Trace Context, version 00 (the one this shop writes): version-traceid-parentid-flags.
TRACEPARENT_PATTERN = r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
# What W3C asks every vendor to propagate; longer lists lose members from the end.
TRACESTATE_MAX_LENGTH = 512
EXPORTERS = ("none", "otlp", "console")

_TRACEPARENT = re.compile(TRACEPARENT_PATTERN.replace("$", r"\Z"))
# The envelope contract is W3C whatever OTEL_PROPAGATORS says about HTTP headers.
_propagator = TraceContextTextMapPropagator()
# Printable ASCII only, before the parser sees it: it logs a member it refuses, and a line
# break in one would forge a log line.
_TRACESTATE = re.compile(rf"\A[\x20-\x7e]{{0,{TRACESTATE_MAX_LENGTH}}}\Z")
_provider: TracerProvider | None = None  # None: tracing is off in this process
_tracers: dict[str, Tracer] = {}


def tracing_enabled() -> bool:
    return _provider is not None


def get_tracer(name: str) -> Tracer:
    """A tracer of this process's provider (a no-op one while tracing is off)."""
    tracer = _tracers.get(name)
    if tracer is None:
        provider = _provider or trace.NoOpTracerProvider()
        tracer = _tracers[name] = provider.get_tracer(name)
    return tracer


def use_tracer_provider(provider: TracerProvider | None, *, excluded_urls: str = "") -> None:
    """Record spans with ``provider`` from now on (None: stop tracing), the request's span
    included. ``configure_tracing`` calls it once per process; tests call it with an
    in-memory exporter's provider."""
    global _provider
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    instrumentor = DjangoInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    _provider = provider
    _tracers.clear()
    if provider is not None:
        # First in the middleware: the request's span covers everything the request does.
        instrumentor.instrument(
            tracer_provider=provider,
            excluded_urls=excluded_urls or None,
            response_hook=_response_hook,
        )


def _response_hook(span: trace.Span, request: Any, response: Any) -> None:
    # The request id finds the request's log lines; the trace finds its events.
    if span.is_recording() and response.has_header("X-Request-ID"):
        span.set_attribute("shop.request_id", response["X-Request-ID"])


def build_exporter(name: str) -> SpanExporter | None:
    """The span exporter ``OTEL_TRACES_EXPORTER`` names; None for ``none``. The OTLP one reads
    its endpoint, headers, timeout and compression from the ``OTEL_EXPORTER_OTLP_*``
    variables itself."""
    if name == "none":
        return None
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER must be one of {', '.join(EXPORTERS)}, not {name!r}")


def configure_tracing(config: Mapping[str, str]) -> None:
    """Set up this process's tracing from ``settings.TRACING``: nothing at all without an
    exporter (or with ``OTEL_SDK_DISABLED=true``)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return
    exporter = build_exporter(config["EXPORTER"])
    if exporter is None:
        return
    # The sampler comes from OTEL_TRACES_SAMPLER (default: parent-based, always on), the
    # resource from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
    provider = TracerProvider(resource=Resource.create({"service.name": config["SERVICE_NAME"]}))
    # A worker thread exports in batches; after a fork (gunicorn, Celery prefork) the SDK
    # starts it again in the child.
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # for any other OpenTelemetry-aware library
    use_tracer_provider(provider, excluded_urls=config.get("EXCLUDED_URLS", ""))
    _flush_when_celery_children_exit()


def _flush_when_celery_children_exit() -> None:
    # A prefork child exits without running atexit handlers: export its last spans first.
    from celery.signals import worker_process_shutdown

    worker_process_shutdown.connect(_flush, weak=False, dispatch_uid="core.tracing.flush")


def _flush(**kwargs: object) -> None:
    if _provider is not None:
        _provider.force_flush(timeout_millis=5000)


def current_trace_context() -> dict[str, str]:
    """``traceparent`` (and ``tracestate``) of the current span, for an event's detail;
    empty while tracing is off or no span is current."""
    if _provider is None:
        return {}
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return {}
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    if TRACESTATE in carrier and len(carrier[TRACESTATE]) > TRACESTATE_MAX_LENGTH:
        carrier[TRACESTATE] = _shortened(carrier[TRACESTATE])
        if not carrier[TRACESTATE]:
            del carrier[TRACESTATE]
    return carrier


def _shortened(tracestate: str) -> str:
    """The leading members of ``tracestate`` that fit the length W3C asks to propagate."""
    kept: list[str] = []
    length = -1
    for member in tracestate.split(","):
        if length + 1 + len(member) > TRACESTATE_MAX_LENGTH:
            break
        kept.append(member)
        length += 1 + len(member)
    return ",".join(kept)


def trusted_trace_context(detail: Mapping[str, Any]) -> dict[str, str]:
    """The trace fields of ``detail`` that pass the W3C parser: a ``traceparent`` of version
    00 with non-zero ids, and its ``tracestate`` (normalised) if that is well formed too.
    Whatever else a message carries there is left out, never trusted."""
    parsed = _parse(detail)
    if parsed is None:
        return {}
    trusted = {TRACEPARENT: detail[TRACEPARENT]}
    if parsed.trace_state:
        trusted[TRACESTATE] = parsed.trace_state.to_header()
    return trusted


def trace_context_of(detail: Mapping[str, Any]) -> SpanContext | None:
    """The span context an event's detail carries, if it is valid (else None)."""
    return _parse(detail)


def _parse(detail: Mapping[str, Any]) -> SpanContext | None:
    traceparent = detail.get(TRACEPARENT)
    if not isinstance(traceparent, str) or not _TRACEPARENT.match(traceparent):
        return None
    carrier = {TRACEPARENT: traceparent}
    tracestate = detail.get(TRACESTATE)
    if isinstance(tracestate, str) and _TRACESTATE.match(tracestate):
        carrier[TRACESTATE] = tracestate
    span_context = trace.get_current_span(_propagator.extract(carrier)).get_span_context()
    return span_context if span_context.is_valid else None


def context_with_parent(span_context: SpanContext) -> Context:
    """A context whose current span is the (remote) span ``span_context`` names."""
    return trace.set_span_in_context(NonRecordingSpan(span_context))
