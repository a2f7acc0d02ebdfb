"""Celery backend: routes each event to its matching subscriptions as Celery tasks.

The routing rules are the same EventBridge patterns, evaluated here; each match becomes
one ``eventbus.deliver`` task (acks_late), the local twin of one SQS message per rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from kombu.exceptions import OperationalError

from eventbus.backends.base import EventBusBackend, PublishResult
from eventbus.envelope import Envelope
from eventbus.subscriptions import matching_subscriptions

# What kombu raises when the broker cannot be reached (the connection, not the message).
_BROKER_ERRORS = (OperationalError, ConnectionError, OSError)


class CeleryBackend(EventBusBackend):
    def publish(self, envelopes: Sequence[Envelope]) -> list[PublishResult]:
        from config.celery_app import app
        from eventbus.tasks import deliver

        results: list[PublishResult] = []
        broker_down: PublishResult | None = None
        with app.producer_or_acquire() as producer:
            for envelope in envelopes:
                if broker_down is not None:
                    # Each further attempt would wait out the connect timeout again.
                    results.append(broker_down)
                    continue
                body = envelope.to_dict()
                try:
                    for subscription in matching_subscriptions(body):
                        # retry=False: a broker that is down fails fast and the outbox
                        # row waits for the sweep instead of blocking the caller.
                        deliver.apply_async(
                            args=(subscription.name, body), producer=producer, retry=False
                        )
                except _BROKER_ERRORS as error:
                    broker_down = PublishResult.retry(f"{type(error).__name__}: {error}")
                    results.append(broker_down)
                except Exception as error:
                    results.append(PublishResult.retry(f"{type(error).__name__}: {error}"))
                else:
                    results.append(PublishResult.success())
        return results

    def redeliver(self, subscription_name: str, envelope: Envelope) -> None:
        from eventbus.tasks import deliver

        deliver.apply_async(args=(subscription_name, envelope.to_dict()))

    def check(self) -> None:
        from config.celery_app import app

        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
