"""Metrics of the reminders: emails sent and failed (counted by the mailer, in whichever
process sends), and reminders by status (read from the database at scrape time)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric

from notifications.models import Reminder

EMAILS_SENT = Counter("notifications_emails_sent", "Reminder emails the email backend accepted.")
EMAILS_FAILED = Counter(
    "notifications_emails_failed",
    "Reminder emails the email backend refused (each failed attempt; the bus retries).",
)


def collect_reminder_metrics() -> Iterator[Metric]:
    """``notifications_reminders{status}``: every status, 0 when no reminder has it."""
    counts = {status: 0 for status in Reminder.Status.values}
    counts |= dict(
        Reminder.objects.values_list("status").annotate(count=Count("pk")).order_by("status")
    )
    family = GaugeMetricFamily(
        "notifications_reminders", "Abandoned-cart reminders, by status.", labels=["status"]
    )
    for status, count in sorted(counts.items()):
        family.add_metric([status], count)
    yield family
