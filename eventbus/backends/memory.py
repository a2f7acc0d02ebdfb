"""In-memory backend for unit tests: records what was published, delivers on request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventbus.backends.base import EventBusBackend, PublishResult
from eventbus.envelope import Envelope


class InMemoryBackend(EventBusBackend):
    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.published: list[Envelope] = []
        self._delivered = 0

    def publish(self, envelopes: Sequence[Envelope]) -> list[PublishResult]:
        self.published.extend(envelopes)
        return [PublishResult.success() for _ in envelopes]

    def deliver_published(self) -> int:
        """Dispatch every envelope not delivered yet to each matching subscription."""
        from eventbus.delivery import dispatch
        from eventbus.subscriptions import matching_subscriptions

        count = 0
        while self._delivered < len(self.published):
            envelope = self.published[self._delivered]
            self._delivered += 1
            for subscription in matching_subscriptions(envelope.to_dict()):
                dispatch(subscription.name, envelope)
                count += 1
        return count

    def clear(self) -> None:
        self.published.clear()
        self._delivered = 0

    def of_type(self, detail_type: str) -> list[Envelope]:
        return [item for item in self.published if item.detail_type == detail_type]
