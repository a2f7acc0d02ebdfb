"""Request ids: taken from ``X-Request-ID`` or generated, echoed back, and put on every log line.

The same id becomes ``detail.correlation_id`` of the events a request causes, and the
delivery of those events sets it again, so one id follows a click to its reminder email.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)
_current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
# Accept what proxies send (uuids, AWS trace ids) but nothing that could forge log lines.
# \A...\Z, not ^...$: "$" also matches before a trailing newline.
_SAFE_ID = re.compile(r"\A[A-Za-z0-9._:=+/-]{1,128}\Z")


def safe_id(value: object) -> str | None:
    """``value`` if it is safe to write into a log line as an id, else None."""
    return value if isinstance(value, str) and _SAFE_ID.match(value) else None


def current_request_id() -> str | None:
    value = _current_request_id.get()
    return None if value == "-" else value


@contextmanager
def request_id_context(request_id: str | None) -> Iterator[None]:
    """Bind ``request_id`` for the log lines written inside the block (and the events
    published there). An id that is not safe, such as a correlation id from the bus that
    carries a line break, is replaced by a new one: it never reaches a log line."""
    unsafe = bool(request_id) and safe_id(request_id) is None
    if unsafe:
        request_id = uuid.uuid4().hex
    token = _current_request_id.set(request_id or "-")
    if unsafe:
        logger.warning("an id that could forge log lines was replaced by this one")
    try:
        yield
    finally:
        _current_request_id.reset(token)


class RequestIdMiddleware:
    header = "X-Request-ID"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(self.header, "")
        request_id = safe_id(incoming) or uuid.uuid4().hex
        request.request_id = request_id
        with request_id_context(request_id):
            response = self.get_response(request)
        response[self.header] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current_request_id.get()
        return True
