"""Reminder reads: opt-outs, the series of delays, what the admin counts."""

from __future__ import annotations

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
