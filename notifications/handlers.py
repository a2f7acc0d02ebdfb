"""The reminder subscriptions. Thin: parse, then call a service."""

from __future__ import annotations

from cart.events import LINE_EVENTS, CartCheckedOut, CartContactChanged
from eventbus.envelope import Envelope
from eventbus.events import DomainEvent
from eventbus.subscriptions import subscribe
from notifications.attribution import order_attribute
from notifications.confirmation import contact_confirmation_send
from notifications.events import CartReminderDue
from notifications.mailer import reminder_send_due
from notifications.policy import reminder_policy_apply_batch
from notifications.recovery import FACT_EVENTS, SUBSCRIPTION, recovery_facts_record

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


# atomic=False: no transaction is held while the mail server answers.
@subscribe(
    name="contact-confirmation-mailer",
    pattern={
        "source": ["shop.cart"],
        "detail-type": ["CartContactChanged"],
        "detail": {"consent": [True], "confirmed": [False]},
    },
    atomic=False,
)
def send_contact_confirmation(event: DomainEvent, envelope: Envelope) -> None:
    """Sends a guest's new reminder address its confirmation link (double opt-in)."""
    assert isinstance(event, CartContactChanged)
    contact_confirmation_send(cart_id=event.cart_id, email=event.email)


@subscribe(
    name="recovery-attribution",
    pattern={"source": ["shop.cart"], "detail-type": ["CartCheckedOut"]},
)
def attribute_recovered_order(event: DomainEvent, envelope: Envelope) -> None:
    """Credits an order placed soon after a reminder to it (OrderRecovered)."""
    assert isinstance(event, CartCheckedOut)
    order_attribute(event=event, envelope=envelope)


@subscribe(
    name=SUBSCRIPTION,
    pattern={"source": ["shop.cart", "shop.notifications"], "detail-type": FACT_EVENTS},
    versions={"CartReminderSent": 2},  # it reads sent_at
    batch=True,
)
def project_recovery_facts(items: list[tuple[DomainEvent, Envelope]]) -> None:
    """Keeps the recovery dashboard's figures (carts, reminders, opens, recoveries)."""
    recovery_facts_record(items=items)
