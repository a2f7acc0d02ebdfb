"""In-memory backend for unit tests: records what was published, delivers on request.

Like the real transports it delivers in batches (each subscription gets the envelopes of a
pass together) and only translates outcomes. Its retry mechanism is a list: a delivery the
failure policy retries is tried again on a later pass of
:meth:`InMemoryBackend.deliver_published`, without waiting its delay (kept in ``retries``
for tests to look at).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eventbus.backend import EventBusBackend, PublishResult
from eventbus.delivery import Outcome, Result, deliver_batch, dispatch
from eventbus.envelope import Envelope
from eventbus.subscriptions import matching_subscriptions


@dataclass(frozen=True)
class PendingRetry:
    subscription_name: str
    envelope: Envelope
    attempt: int
    delay: float


class InMemoryBackend(EventBusBackend):
    def __init__(self) -> None:
        self.published: list[Envelope] = []
        self.outcomes: list[tuple[str, Outcome]] = []
        self.retries: list[PendingRetry] = []
        self._delivered = 0
        self._due: list[PendingRetry] = []

    def publish(self, envelopes: Sequence[Envelope]) -> list[PublishResult]:
        self.published.extend(envelopes)
        return [PublishResult.success() for _ in envelopes]

    def redeliver(self, subscription_name: str, envelope: Envelope) -> None:
        dispatch(subscription_name, envelope)

    def deliver_published(self) -> int:
        """Deliver every envelope not delivered yet to each matching subscription, then the
        retries that are owed; returns how many deliveries were attempted."""
        count = 0
        while self._delivered < len(self.published) or self._due:
            # Each subscription gets this pass's envelopes as one batch, in publish order.
            batches: dict[str, list[tuple[Envelope, int]]] = {}
            for envelope in self.published[self._delivered :]:
                for subscription in matching_subscriptions(envelope.to_dict()):
                    batches.setdefault(subscription.name, []).append((envelope, 1))
            self._delivered = len(self.published)
            for retry in self._due:
                batches.setdefault(retry.subscription_name, []).append(
                    (retry.envelope, retry.attempt)
                )
            self._due = []
            for name, batch in batches.items():
                count += len(batch)
                for (envelope, attempt), outcome in zip(
                    batch, deliver_batch(name, batch), strict=True
                ):
                    self._translate(name, envelope, attempt, outcome)
        return count

    def _translate(self, name: str, envelope: Envelope, attempt: int, outcome: Outcome) -> None:
        self.outcomes.append((name, outcome))
        if outcome.result is Result.RETRY:
            retry = PendingRetry(name, envelope, attempt + 1, outcome.retry_after)
            self.retries.append(retry)
            self._due.append(retry)

    def clear(self) -> None:
        self.published.clear()
        self.outcomes.clear()
        self.retries.clear()
        self._due.clear()
        self._delivered = 0

    def of_type(self, detail_type: str) -> list[Envelope]:
        return [item for item in self.published if item.detail_type == detail_type]
