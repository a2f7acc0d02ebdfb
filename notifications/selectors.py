"""Reminder reads: opt-outs, the series of delays, what the admin counts, recovery links."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

from notifications.models import EmailSuppression, Reminder


def email_normalize(email: str) -> str:
    return email.strip().lower()


def email_is_suppressed(*, email: str) -> bool:
    return EmailSuppression.objects.filter(email=email_normalize(email)).exists()


def reminder_delays() -> list[timedelta]:
    """Delay of each step after the cart's last change: ``REMINDER_SERIES``, which defaults
    to ``[REMINDER_DELAY]``; step 1 is due after the first entry."""
    return list(settings.REMINDER_SERIES) or [settings.REMINDER_DELAY]


def reminder_schedule_key(*, cart_id: object) -> str:
    """One schedule per cart (50 characters, within Scheduler's name rules): rescheduling
    replaces it instead of piling up schedules."""
    return f"cart-reminder-{cart_id}"


def reminder_counts() -> dict[str, int]:
    return {
        "sent": Reminder.objects.filter(status=Reminder.Status.SENT).count(),
        "recovered": Reminder.objects.filter(recovered_at__isnull=False).count(),
        "pending": Reminder.objects.filter(status=Reminder.Status.PENDING).count(),
    }


# Reminders whose email may have gone out, and so whose recovery link someone may hold.
_EMAILED = [Reminder.Status.SENT, Reminder.Status.SENDING]


@dataclass(frozen=True)
class RecoveryLink:
    """What a recovery link can still do. ``state``: "live" (it restores its cart, once),
    "used" (it did already), "replaced" (a newer reminder of the cart went out: only the
    newest link works) or "unknown" (no such reminder was emailed)."""

    state: str
    reminder: Reminder | None = None

    @property
    def live(self) -> bool:
        return self.state == "live"


def recovery_link_get(*, link_token: uuid.UUID) -> RecoveryLink:
    reminder = (
        Reminder.objects.select_related("cart")
        .filter(link_token=link_token, status__in=_EMAILED)
        .first()
    )
    if reminder is None:
        return RecoveryLink("unknown")
    if reminder.clicked_at is not None:
        return RecoveryLink("used", reminder)
    newer = Reminder.objects.filter(
        cart_id=reminder.cart_id, pk__gt=reminder.pk, status__in=_EMAILED
    ).exists()
    return RecoveryLink("replaced" if newer else "live", reminder)
