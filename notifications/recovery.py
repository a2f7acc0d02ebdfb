"""The recovery dashboard's projection (``recovery-dashboard`` subscription): each event it
hears becomes at most one :class:`RecoveryFact`, and :func:`recovery_facts_rebuild` makes
them again from the event history the outbox keeps.

Every fact has a key, and inserting one whose key exists does nothing, so a redelivery, a
replay or a rebuild over events already projected changes no figure, and the order in
which events arrive does not matter (a cart's contact is read from its newest sequence).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cart.events import CartContactChanged, ItemAddedToCart
from eventbus.conversion import from_envelope
from eventbus.envelope import Envelope
from eventbus.events import DomainEvent
from eventbus.history import history_envelopes, history_horizon
from eventbus.subscriptions import get_subscription
from eventbus.versioning import envelope_as_read_by
from notifications.events import (
    CartReminderCancelled,
    CartReminderScheduled,
    CartReminderSent,
    CartReminderSkipped,
    OrderRecovered,
    RecoveryLinkOpened,
)
from notifications.models import RecoveryFact

logger = logging.getLogger(__name__)

SUBSCRIPTION = "recovery-dashboard"
Kind = RecoveryFact.Kind

# A fact's time is its domain moment (sent_at, placed_at), which can be a little earlier
# than its envelope's time (envelopes are stamped to the second, and OrderRecovered is
# published once the order exists). A rebuild replays this much history before the facts
# it replaces; what it replays again is ignored by key.
REPLAY_MARGIN = timedelta(days=1)
# Facts inserted per statement by a rebuild.
REBUILD_BATCH = 500


def _moment(text: str) -> datetime:
    moment = parse_datetime(text)
    if moment is None:
        raise ValueError(f"not a date-time: {text!r}")
    return moment


def _cart_active(event: ItemAddedToCart, envelope: Envelope) -> RecoveryFact:
    day = timezone.localdate(envelope.time)
    return RecoveryFact(
        key=f"cart_active:{event.cart_id}:{day.isoformat()}",
        kind=Kind.CART_ACTIVE,
        occurred_at=envelope.time,
        cart_id=event.cart_id,
    )


def _contact(event: CartContactChanged, envelope: Envelope) -> RecoveryFact:
    return RecoveryFact(
        key=f"contact:{event.cart_id}:{event.sequence}",
        kind=Kind.CONTACT,
        occurred_at=envelope.time,
        cart_id=event.cart_id,
        sequence=event.sequence,
        # Double opt-in: a guest's consent counts once the address is confirmed (an
        # account's always is); events from before it lack the flag and count through
        # their cart's reminder, if it had one.
        reachable=bool(event.email and event.consent and event.confirmed),
    )


def _reminder_fact(kind: str, event: DomainEvent, occurred_at: datetime, **fields) -> RecoveryFact:
    return RecoveryFact(
        key=f"{kind}:{event.reminder_id}",
        kind=kind,
        occurred_at=occurred_at,
        cart_id=event.cart_id,
        reminder_id=event.reminder_id,
        step=event.step,
        **fields,
    )


def _scheduled(event: CartReminderScheduled, envelope: Envelope) -> RecoveryFact:
    return _reminder_fact(Kind.SCHEDULED, event, envelope.time)


def _sent(event: CartReminderSent, envelope: Envelope) -> RecoveryFact:
    return _reminder_fact(Kind.SENT, event, _moment(event.sent_at))


def _skipped(event: CartReminderSkipped, envelope: Envelope) -> RecoveryFact:
    return _reminder_fact(Kind.SKIPPED, event, envelope.time, reason=event.reason)


def _cancelled(event: CartReminderCancelled, envelope: Envelope) -> RecoveryFact:
    return _reminder_fact(Kind.CANCELLED, event, envelope.time, reason=event.reason)


def _link_opened(event: RecoveryLinkOpened, envelope: Envelope) -> RecoveryFact:
    return _reminder_fact(Kind.LINK_OPENED, event, _moment(event.opened_at))


def _recovered(event: OrderRecovered, envelope: Envelope) -> RecoveryFact:
    return RecoveryFact(
        key=f"recovered:{event.order_id}",
        kind=Kind.RECOVERED,
        occurred_at=_moment(event.placed_at),
        cart_id=event.cart_id,
        reminder_id=event.reminder_id,
        step=event.step,
        reason=event.touch,
        order_id=event.order_id,
        amount=Decimal(event.total),
        currency=event.currency,
        discount_code=event.discount_code,
    )


_FACTS: dict[type[DomainEvent], Callable[..., RecoveryFact]] = {
    ItemAddedToCart: _cart_active,
    CartContactChanged: _contact,
    CartReminderScheduled: _scheduled,
    CartReminderSent: _sent,
    CartReminderSkipped: _skipped,
    CartReminderCancelled: _cancelled,
    RecoveryLinkOpened: _link_opened,
    OrderRecovered: _recovered,
}
# What the subscription hears (detail-types are unique across sources).
FACT_EVENTS = sorted(event_class.detail_type for event_class in _FACTS)


def recovery_facts_record(*, items: list[tuple[DomainEvent, Envelope]]) -> None:
    """Project a batch of events in one statement: insert each one's fact, unless a fact
    with its key is there already."""
    facts = {}
    for event, envelope in items:
        fact = _FACTS[type(event)](event, envelope)
        facts.setdefault(fact.key, fact)  # a cart's adds of one day are one fact
    if facts:
        RecoveryFact.objects.bulk_create(facts.values(), ignore_conflicts=True)


@dataclass(frozen=True)
class RebuildReport:
    since: datetime | None
    deleted: int
    replayed: int
    facts: int


@transaction.atomic
def recovery_facts_rebuild(*, since: datetime | None = None) -> RebuildReport:
    """Replace the facts from ``since`` on (all of them with None) with those made again from
    the outbox's events, in one transaction. Facts older than ``since`` are kept as they
    are: their events may have been pruned (:func:`eventbus.history.history_horizon` is the
    earliest moment from which the history is known to be complete)."""
    facts = RecoveryFact.objects.all()
    if since is not None:
        facts = facts.filter(occurred_at__gte=since)
    deleted, _ = facts.delete()
    subscription = get_subscription(SUBSCRIPTION)
    replayed = 0
    pending: list[tuple[DomainEvent, Envelope]] = []
    for envelope in history_envelopes(
        detail_types=FACT_EVENTS, since=since - REPLAY_MARGIN if since else None
    ):
        if not subscription.matches(envelope.to_dict()):
            continue
        read = envelope_as_read_by(subscription.versions, envelope)
        pending.append((from_envelope(read), read))
        replayed += 1
        if len(pending) >= REBUILD_BATCH:
            recovery_facts_record(items=pending)
            pending = []
    recovery_facts_record(items=pending)
    report = RebuildReport(since, deleted, replayed, RecoveryFact.objects.count())
    logger.info("recovery dashboard rebuilt: %s", report)
    return report


def default_rebuild_since() -> datetime:
    return history_horizon()
