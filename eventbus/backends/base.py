"""The interface every bus backend implements, and the local (database) scheduler."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventbus.envelope import Envelope


@dataclass(frozen=True)
class PublishResult:
    """The fate of one envelope in a publish call."""

    ok: bool
    retryable: bool = True
    error: str = ""

    @classmethod
    def success(cls) -> PublishResult:
        return cls(ok=True)

    @classmethod
    def retry(cls, error: str) -> PublishResult:
        return cls(ok=False, retryable=True, error=error)

    @classmethod
    def reject(cls, error: str) -> PublishResult:
        return cls(ok=False, retryable=False, error=error)


class EventBusBackend(ABC):
    """Carries envelopes from the outbox relay to the subscriptions' handlers."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abstractmethod
    def publish(self, envelopes: Sequence[Envelope]) -> list[PublishResult]:
        """Hand ``envelopes`` to the bus; one result per envelope, in order. Never raises
        for a single bad envelope: failures are results."""

    def redeliver(self, subscription_name: str, envelope: Envelope) -> None:
        """Deliver ``envelope`` to one subscription again (dead-letter replay)."""
        from eventbus.delivery import dispatch

        dispatch(subscription_name, envelope)

    def schedule(self, envelope: Envelope, *, at: datetime, key: str) -> str:
        """Publish ``envelope`` at ``at``; the same ``key`` replaces an earlier schedule.
        Returns the backend's name for the schedule."""
        from eventbus.models import ScheduledEvent

        ScheduledEvent.objects.update_or_create(
            key=key, defaults={"due_at": at, "envelope": envelope.to_dict()}
        )
        return key

    def cancel_schedule(self, key: str) -> None:
        """Forget schedule ``key``; an unknown key is already cancelled."""
        from eventbus.models import ScheduledEvent

        ScheduledEvent.objects.filter(key=key).delete()

    def check(self) -> None:  # noqa: B027 - optional: a local bus has nothing to reach
        """Raise when the bus cannot be reached (used by ``/healthz``)."""

    @property
    def label(self) -> str:
        return type(self).__name__
