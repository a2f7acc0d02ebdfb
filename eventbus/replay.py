"""Operator tools on top of the bus: send a dead letter on again once its fault is fixed."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from eventbus.backend import get_backend
from eventbus.envelope import Envelope, MalformedEnvelope
from eventbus.models import DeadLetter, OutboxEvent
from eventbus.relay import relay_outbox
from eventbus.subscriptions import get_subscription

logger = logging.getLogger(__name__)


def replay_dead_letter(letter: DeadLetter) -> None:
    """Send a dead letter on again: republish it, or redeliver it to its subscription.

    Replaying twice is harmless: delivery is idempotent per (subscription, event id). Raises
    (and leaves the letter unreplayed) when the letter cannot be sent again.
    """
    if letter.envelope is None:
        raise MalformedEnvelope(f"dead letter {letter.pk} has no envelope to replay")
    envelope = Envelope.from_dict(letter.envelope)
    if letter.subscription == DeadLetter.PUBLISH:
        with transaction.atomic():
            reset = OutboxEvent.objects.filter(pk=envelope.id).update(
                status=OutboxEvent.Status.PENDING,
                next_attempt_at=timezone.now(),
                attempts=0,
                last_error="",
            )
            if not reset:
                raise LookupError(f"outbox event {envelope.id} of dead letter {letter.pk} is gone")
            transaction.on_commit(lambda: relay_outbox(ids=[envelope.id]), robust=True)
    else:
        get_subscription(letter.subscription)  # fail here, not in a worker, if it is gone
        get_backend().redeliver(letter.subscription, envelope)
    letter.replayed_at = timezone.now()
    letter.save(update_fields=["replayed_at"])
    logger.info("replayed dead letter %s (%s, %s)", letter.pk, letter.subscription, envelope.id)
