"""The ``spans`` fixture's recorder: the SDK's in-memory exporter behind this process's
tracing (core.tracing), with the look-ups the trace tests need."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id

from core.tracing import use_tracer_provider


class _ThreadNames(SpanProcessor):
    """Remembers which thread started each span (a Celery worker's, a consumer's)."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}

    def on_start(self, span, parent_context=None) -> None:
        self.names[span.context.span_id] = threading.current_thread().name


class Spans:
    """Every span this process (any thread) ended since the fixture started."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.threads = _ThreadNames()
        self.provider = TracerProvider()
        self.provider.add_span_processor(self.threads)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def thread_of(self, span: ReadableSpan) -> str:
        return self.threads.names[span.context.span_id]

    def start(self) -> None:
        use_tracer_provider(self.provider)

    def stop(self) -> None:
        use_tracer_provider(None)
        self.provider.shutdown()

    def all(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.all() if span.name == name]

    def one(self, name: str, *, trace_id: int | None = None) -> ReadableSpan:
        found = [
            span
            for span in self.named(name)
            if trace_id is None or span.context.trace_id == trace_id
        ]
        assert len(found) == 1, f"{len(found)} spans named {name!r}: {self.summary()}"
        return found[0]

    def server_span(self, route: str, method: str = "POST") -> ReadableSpan:
        """The request span of the one ``method`` request to the URL pattern ``route``."""
        found = [
            span
            for span in self.all()
            if span.kind is SpanKind.SERVER
            and span.attributes.get("http.route") == route
            and span.attributes.get("http.method", span.attributes.get("http.request.method"))
            == method
        ]
        assert len(found) == 1, f"{len(found)} {method} {route} requests: {self.summary()}"
        return found[0]

    def in_trace(self, trace_id: int) -> list[ReadableSpan]:
        return [span for span in self.all() if span.context.trace_id == trace_id]

    def wait_for(self, name: str, *, trace_id: int, timeout: float = 15) -> ReadableSpan:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [span for span in self.named(name) if span.context.trace_id == trace_id]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no {name!r} span in the trace within {timeout}s: {self.summary()}")

    def summary(self) -> str:
        return "; ".join(
            f"{span.name} [{format_trace_id(span.context.trace_id)[:8]}] "
            f"{format_span_id(span.context.span_id)[:6]}"
            f"<-{format_span_id(span.parent.span_id)[:6] if span.parent else 'root'}"
            for span in self.all()
        )


def child_of(span: ReadableSpan, parent: ReadableSpan) -> bool:
    return (
        span.parent is not None
        and span.context.trace_id == parent.context.trace_id
        and span.parent.span_id == parent.context.span_id
    )


def traceparent_of(span: ReadableSpan) -> str:
    context = span.context
    return (
        f"00-{format_trace_id(context.trace_id)}-{format_span_id(context.span_id)}-"
        f"{int(context.trace_flags):02x}"
    )


def waited(predicate: Callable[[], object], timeout: float = 15) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s")
