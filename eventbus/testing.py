"""Helpers for tests and benchmarks: temporary subscriptions and schemas that leave no trace."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eventbus import events
from eventbus.envelope import Envelope
from eventbus.events import DomainEvent
from eventbus.subscriptions import Handler, Subscription, get_subscription, subscribe, unsubscribe


@contextmanager
def temporary_subscription(
    *,
    name: str,
    pattern: dict[str, Any],
    handler: Handler | None = None,
    versions: dict[str, int] | None = None,
) -> Iterator[Subscription]:
    """Register ``handler`` (by default one that records its calls) as subscription ``name``
    for the duration of the block, then remove it.

    The default handler keeps ``(event, envelope)`` pairs in ``subscription.handler.calls``.
    """
    chosen = handler or RecordingHandler()
    subscribe(name=name, pattern=pattern, versions=versions)(chosen)
    try:
        yield get_subscription(name)
    finally:
        unsubscribe(name)


class RecordingHandler:
    """A handler that remembers what it was called with, and can be told to fail."""

    def __init__(self, *, fail_with: BaseException | None = None) -> None:
        self.calls: list[tuple[DomainEvent, Envelope]] = []
        self.fail_with = fail_with
        self.__qualname__ = f"RecordingHandler-{id(self)}"
        self.__module__ = __name__

    def __call__(self, event: DomainEvent, envelope: Envelope) -> None:
        self.calls.append((event, envelope))
        if self.fail_with is not None:
            raise self.fail_with

    @property
    def event_ids(self) -> list[str]:
        return [envelope.id for _, envelope in self.calls]


@contextmanager
def replaced_schema(event_class: type[DomainEvent], schema: dict[str, Any]) -> Iterator[None]:
    """Give ``event_class``'s registered type another schema for the duration of the block,
    as if its declaration had been edited (for tests of the compatibility checks)."""
    original = event_class.event_type()
    key = (original.source, original.detail_type, original.version)
    changed = dataclasses.replace(original, schema=schema)
    latest = events._latest.get(key[:2])
    events._registry[key] = changed
    if latest is original:
        events._latest[key[:2]] = changed
    try:
        yield
    finally:
        events._registry[key] = original
        if latest is original:
            events._latest[key[:2]] = original
