"""The interface every bus backend implements, and the one configured backend of a process.

``EVENT_BUS["BACKEND"]`` names the class by dotted path and ``EVENT_BUS["OPTIONS"]`` are its
constructor's keyword arguments, as with Django's ``CACHES``: each backend owns its options,
and nothing else reads them. The base class also keeps local schedules as database rows,
which serves every backend without a scheduler of its own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from eventbus.envelope import Envelope
from eventbus.models import ScheduledEvent

# Account and region of envelopes that no cloud stamped (EventBridge's own placeholders).
LOCAL_ACCOUNT = "000000000000"
LOCAL_REGION = "local"


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

    @abstractmethod
    def publish(self, envelopes: Sequence[Envelope]) -> list[PublishResult]:
        """Hand ``envelopes`` to the bus; one result per envelope, in order. Never raises
        for a single bad envelope: failures are results."""

    def redeliver(self, subscription_name: str, envelope: Envelope) -> None:
        """Deliver ``envelope`` to one subscription again (dead-letter replay)."""
        raise NotImplementedError(f"{self.label} cannot redeliver to one subscription")

    def schedule(self, envelope: Envelope, *, at: datetime, key: str) -> str:
        """Publish ``envelope`` at ``at``; the same ``key`` replaces an earlier schedule.
        Returns the backend's name for the schedule."""
        ScheduledEvent.objects.update_or_create(
            key=key, defaults={"due_at": at, "envelope": envelope.to_dict()}
        )
        return key

    def cancel_schedule(self, key: str) -> None:
        """Forget schedule ``key``; an unknown key is already cancelled."""
        ScheduledEvent.objects.filter(key=key).delete()

    def check(self) -> None:  # noqa: B027 - optional: a local bus has nothing to reach
        """Raise when the bus cannot be reached (used by ``/healthz``)."""

    @property
    def origin(self) -> tuple[str, str]:
        """(account, region) stamped on the envelopes this process publishes."""
        return LOCAL_ACCOUNT, LOCAL_REGION

    @property
    def label(self) -> str:
        return type(self).__name__


@cache
def get_backend() -> EventBusBackend:
    """The configured backend, built on first use and kept for the process."""
    config = settings.EVENT_BUS
    backend_class = import_string(config["BACKEND"])
    return backend_class(**config.get("OPTIONS", {}))


@receiver(setting_changed)
def _forget_backend(*, setting: str, **kwargs: object) -> None:
    if setting == "EVENT_BUS":
        get_backend.cache_clear()
