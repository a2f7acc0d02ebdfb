"""The reminder subscriptions. Thin: parse, then call a service."""

from __future__ import annotations

from cart.events import LINE_EVENTS
from eventbus.envelope import Envelope
from eventbus.events import DomainEvent
from eventbus.subscriptions import subscribe
from notifications.events import CartReminderDue
from notifications.mailer import reminder_send_due
from notifications.policy import reminder_policy_apply_batch

POLICY_EVENTS = [*LINE_EVENTS, "CartCheckedOut", "CartContactChanged"]


@subscribe(
    name="reminder-policy",
    pattern={"source": ["shop.cart"], "detail-type": POLICY_EVENTS},
    batch=True,
)
def apply_reminder_policy(items: list[tuple[DomainEvent, Envelope]]) -> None:
    """Schedules, pushes out or cancels a cart's abandoned-cart reminder."""
    reminder_policy_apply_batch(items=items)


# atomic=False: the mailer commits a claim before sending (at most one email); see
# notifications.mailer.
@subscribe(
    name="abandoned-cart-mailer",
    pattern={"source": ["shop.notifications"], "detail-type": ["CartReminderDue"]},
    atomic=False,
)
def send_abandoned_cart_email(event: DomainEvent, envelope: Envelope) -> None:
    """Sends the abandoned-cart email when a reminder falls due."""
    assert isinstance(event, CartReminderDue)
    reminder_send_due(reminder_id=event.reminder_id, activity_sequence=event.activity_sequence)
