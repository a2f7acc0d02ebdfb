"""The abandoned-cart mailer: re-checks at send time, at most one email, failures end
as ``failed`` plus a dead letter."""

import socket
from datetime import UTC, datetime, timedelta

import pytest

from cart.models import Cart
from cart.services import cart_item_add
from eventbus.conversion import to_envelope
from eventbus.delivery import dispatch
from eventbus.failures import max_attempts
from eventbus.models import DeadLetter, ProcessedEvent, ScheduledEvent
from eventbus.scheduling import publish_due_scheduled_events
from eventbus.tasks import deliver as deliver_task
from notifications.models import Reminder, SentEmail
from shop.models import Product

pytestmark = pytest.mark.django_db

MAILER = "abandoned-cart-mailer"


@pytest.fixture
def abandoned(shopper, clock):
    """A cart with two lines whose reminder is due (events set two hours back)."""
    clock.set(datetime.now(UTC) - timedelta(hours=2))
    shopper.contact("ann@example.com")
    shopper.add("COF-001", 2)
    shopper.add("TEA-001")
    return Reminder.objects.get(status=Reminder.Status.PENDING)


def test_due_reminder_sends_one_email_and_records_it(abandoned, fire_due, mailoutbox, bus):
    assert fire_due() == 1

    [message] = mailoutbox
    assert message.to == ["ann@example.com"]
    abandoned.refresh_from_db()
    assert abandoned.status == Reminder.Status.SENT
    assert abandoned.sent_at is not None
    assert abandoned.send_attempts == 1
    [logged] = SentEmail.objects.all()
    assert logged.reminder == abandoned
    assert logged.to == "ann@example.com"
    assert logged.subject == message.subject
    assert logged.message_id == message.extra_headers["Message-ID"]
    [sent_event] = bus.of_type("CartReminderSent")
    assert sent_event.detail["reminder_id"] == abandoned.pk
    assert sent_event.detail["version"] == 2
    assert sent_event.detail["channel_message_id"] == logged.message_id
    assert sent_event.detail["channel"] == "email"
    assert not ScheduledEvent.objects.exists()


def test_same_due_event_twice_sends_nothing_more(abandoned, fire_due, mailoutbox, bus):
    fire_due()
    [due] = bus.of_type("CartReminderDue")

    assert dispatch(MAILER, due) is False  # the same message again
    dispatch(MAILER, due.with_new_identity())  # the schedule firing twice

    assert len(mailoutbox) == 1
    assert SentEmail.objects.count() == 1


def test_not_yet_due_reminder_is_not_sent(shopper, fire_due, mailoutbox):
    shopper.contact()
    shopper.add()

    assert fire_due() == 0
    assert mailoutbox == []
    assert Reminder.objects.get().status == Reminder.Status.PENDING


def test_firing_from_before_a_reschedule_is_ignored(abandoned, clock, shopper, mailoutbox):
    stale = to_envelope(_due_event_for(abandoned))
    clock.set(datetime.now(UTC))
    shopper.add("COF-002")  # the policy moves the reminder an hour ahead

    assert dispatch(MAILER, stale) is True  # the old firing arrives after that

    assert mailoutbox == []
    [reminder] = Reminder.objects.all()
    assert reminder.status == Reminder.Status.PENDING
    assert reminder.due_at > datetime.now(UTC)


def test_change_racing_the_firing_sends_nothing_and_keeps_one_reminder(
    abandoned, clock, shopper, mailoutbox
):
    publish_due_scheduled_events(now=datetime.now(UTC))  # fired, not delivered yet
    clock.set(datetime.now(UTC))
    shopper.add("COF-002")  # delivered in one batch with the firing: the mailer goes first

    assert mailoutbox == []
    abandoned.refresh_from_db()
    assert abandoned.status == Reminder.Status.SKIPPED
    [pending] = Reminder.objects.filter(status=Reminder.Status.PENDING)
    assert pending.due_at > datetime.now(UTC)
    assert ScheduledEvent.objects.get().due_at == pending.due_at


def _due_event_for(reminder):
    from notifications.events import CartReminderDue

    return CartReminderDue(
        reminder_id=reminder.pk,
        cart_id=str(reminder.cart_id),
        step=reminder.step,
        activity_sequence=reminder.activity_sequence,
    )


def test_cart_changed_after_scheduling_is_skipped(abandoned, fire_due, mailoutbox):
    # A change accepted but not handled by the policy yet (its event is still in flight).
    cart = Cart.objects.get()
    cart_item_add(cart=cart, product=Product.objects.get(sku="COF-002"), quantity=1)
    [due] = _fire_without_delivering()
    dispatch(MAILER, due)

    assert mailoutbox == []
    abandoned.refresh_from_db()
    assert abandoned.status == Reminder.Status.SKIPPED
    assert abandoned.reason == "cart changed after the reminder was scheduled"


def _fire_without_delivering():
    """Publish the due schedules and return their CartReminderDue envelopes, undelivered."""
    from eventbus.envelope import Envelope
    from eventbus.models import OutboxEvent

    publish_due_scheduled_events(now=datetime.now(UTC))
    return [
        Envelope.from_dict(row.envelope)
        for row in OutboxEvent.objects.filter(detail_type="CartReminderDue")
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": Cart.Status.CHECKED_OUT}, "checked out"),
        ({"consent": False}, "consent withdrawn"),
    ],
)
def test_cart_state_is_checked_again_at_send_time(abandoned, fire_due, mailoutbox, change, reason):
    Cart.objects.update(**change)  # as if the policy never saw the change

    fire_due()

    assert mailoutbox == []
    abandoned.refresh_from_db()
    assert abandoned.status == Reminder.Status.SKIPPED
    assert abandoned.reason == reason


def test_cart_emptied_behind_the_policys_back_is_skipped(abandoned, fire_due, mailoutbox):
    Cart.objects.get().lines.all().delete()

    fire_due()

    assert mailoutbox == []
    abandoned.refresh_from_db()
    assert abandoned.reason == "cart is empty"


def test_unsubscribed_in_the_meantime_is_skipped(abandoned, fire_due, mailoutbox):
    from notifications.models import EmailSuppression

    EmailSuppression.objects.create(email="ann@example.com")

    fire_due()

    assert mailoutbox == []
    abandoned.refresh_from_db()
    assert abandoned.reason == "unsubscribed"


def test_a_claimed_reminder_is_never_sent_again(abandoned, fire_due, mailoutbox):
    # A worker claimed it and died before recording the result: the email may be out.
    Reminder.objects.filter(pk=abandoned.pk).update(status=Reminder.Status.SENDING)

    fire_due()

    assert mailoutbox == []
    abandoned.refresh_from_db()
    assert abandoned.status == Reminder.Status.SENDING


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_down(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = _closed_port()
    settings.EMAIL_TIMEOUT = 2


def test_smtp_down_is_retried_then_failed_with_a_dead_letter(abandoned, smtp_down, bus):
    [due] = _fire_without_delivering()

    deliver_task.apply(args=(MAILER, due.to_dict()))  # the Celery task, retries and all

    abandoned.refresh_from_db()
    assert abandoned.status == Reminder.Status.FAILED
    assert abandoned.send_attempts == max_attempts()
    assert "ConnectionRefusedError" in abandoned.reason
    [letter] = DeadLetter.objects.all()
    assert letter.subscription == MAILER
    assert letter.event_id == due.id
    assert letter.attempts == max_attempts()
    assert "PermanentFailure" in letter.error
    assert not SentEmail.objects.exists()


def test_smtp_back_before_the_last_attempt_sends_once(abandoned, smtp_down, settings, bus):
    [due] = _fire_without_delivering()

    with pytest.raises(Exception, match="Connection refused"):
        dispatch(MAILER, due)
    abandoned.refresh_from_db()
    assert abandoned.status == Reminder.Status.PENDING  # ready for the bus's retry
    assert not ProcessedEvent.objects.filter(subscription=MAILER).exists()

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from django.core import mail

    mail.outbox = []
    assert dispatch(MAILER, due) is True

    abandoned.refresh_from_db()
    assert abandoned.status == Reminder.Status.SENT
    assert abandoned.send_attempts == 2
    assert len(mail.outbox) == 1
