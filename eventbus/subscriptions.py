"""Subscriptions: a named consumer, an EventBridge event pattern and a handler.

Registered with ``@subscribe`` in ``<app>/handlers.py`` (imported by the app's
``ready()``). The same name becomes the EventBridge rule and SQS queue on AWS, so names
follow AWS resource-name rules, and the pattern is validated when the module loads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from eventbus.envelope import Envelope
from eventbus.events import DomainEvent
from eventbus.patterns import CompiledPattern, InvalidPattern, compile_pattern

Handler = Callable[[DomainEvent, Envelope], None]
# A batch subscription's handler: the (event, envelope) pairs delivered together.
BatchHandler = Callable[[list[tuple[DomainEvent, Envelope]]], None]

# Rule names allow [.-_A-Za-z0-9]{1,64}; SQS queue names are [-_A-Za-z0-9] and get a prefix
# and a "-dlq" suffix, so the common ground is narrower.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")


@dataclass(frozen=True)
class Subscription:
    name: str
    pattern: dict[str, Any]
    handler: Handler | BatchHandler
    matcher: CompiledPattern
    description: str = ""
    # False: the handler commits its own steps (see delivery.dispatch).
    atomic: bool = True
    # detail-type -> the version the handler was written for (others: the latest).
    versions: Mapping[str, int] = field(default_factory=dict)
    # True: the handler takes a list of (event, envelope) pairs, the events a transport
    # delivered together, and handles them at once (see delivery.deliver_batch).
    batch: bool = False

    def matches(self, event: dict[str, Any]) -> bool:
        return self.matcher.matches(event)


_subscriptions: dict[str, Subscription] = {}


def subscribe(
    *,
    name: str,
    pattern: dict[str, Any],
    atomic: bool = True,
    versions: Mapping[str, int] | None = None,
    batch: bool = False,
) -> Callable[[Any], Any]:
    """Register the decorated function as the handler of subscription ``name``.

    ``versions`` pins event types to the version the handler was written for
    (``{"CartReminderSent": 1}``); it gets every other type at its latest version.
    ``batch=True``: the handler takes the list of ``(event, envelope)`` pairs delivered
    together (a consumer that does a fixed amount of work per batch, not per event).

    Raises ImproperlyConfigured for a name AWS would refuse, an invalid pattern, or a name
    that another handler already uses.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ImproperlyConfigured(
            f"subscription name {name!r} must be 1-48 letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    try:
        matcher = compile_pattern(pattern)
    except InvalidPattern as error:
        raise ImproperlyConfigured(f"subscription {name!r}: invalid pattern: {error}") from error
    if batch and not atomic:
        # A handler that commits its own steps cannot share the batch's transaction.
        raise ImproperlyConfigured(f"subscription {name!r}: a batch handler must be atomic")

    def register(handler: Any) -> Any:
        existing = _subscriptions.get(name)
        if existing is not None and _qualified_name(existing.handler) != _qualified_name(handler):
            raise ImproperlyConfigured(
                f"subscription name {name!r} is used twice: by "
                f"{_qualified_name(existing.handler)} and {_qualified_name(handler)}"
            )
        description = (handler.__doc__ or "").strip().splitlines()
        # The same handler registered again (its module reloaded) replaces itself.
        _subscriptions[name] = Subscription(
            name=name,
            pattern=pattern,
            handler=handler,
            matcher=matcher,
            description=description[0] if description else "",
            atomic=atomic,
            versions=dict(versions or {}),
            batch=batch,
        )
        return handler

    return register


def unsubscribe(name: str) -> None:
    """Forget subscription ``name`` (for tests and plug-ins that register temporarily)."""
    _subscriptions.pop(name, None)


def _qualified_name(handler: Handler) -> str:
    return f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)}"


def all_subscriptions() -> Iterator[Subscription]:
    yield from sorted(_subscriptions.values(), key=lambda item: item.name)


def get_subscription(name: str) -> Subscription:
    try:
        return _subscriptions[name]
    except KeyError:
        raise LookupError(f"no subscription named {name!r}") from None


def matching_subscriptions(event: dict[str, Any]) -> list[Subscription]:
    """Every subscription whose pattern matches ``event`` (an envelope as a dict)."""
    return [item for item in _subscriptions.values() if item.matcher.matches(event)]
