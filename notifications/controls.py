"""Sending controls: how often one address may be emailed, the hours reminders wait out,
the smallest cart worth a reminder, how long an order counts as recovered, and which
series step carries a discount. Read from settings (durations parsed there; the other
values here, checked at startup by :mod:`notifications.checks`), applied by the policy and
the mailer through :func:`reminder_due_at` and :func:`sending_refusal`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from cart.discounts import percent_text
from cart.selectors import CartSummary
from notifications.models import Reminder


class InvalidControl(ValueError):
    """A sending-control setting that cannot be read."""


# --- Reading the settings ----------------------------------------------------------------------


@dataclass(frozen=True)
class QuietHours:
    """A daily span in the shop's time zone (``TIME_ZONE``); it may wrap past midnight."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, moment: datetime) -> bool:
        clock = timezone.localtime(moment).time()
        if self.start <= self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end

    def end_after(self, moment: datetime) -> datetime:
        """The end of the quiet hours ``moment`` falls in (call only when it does)."""
        local = timezone.localtime(moment)
        end = timezone.make_aware(
            datetime.combine(local.date(), self.end), timezone.get_current_timezone()
        )
        return end if end > local else end + timedelta(days=1)


_CLOCK = r"([01]?\d|2[0-3]):([0-5]\d)"


@lru_cache(maxsize=8)
def _parse_quiet_hours(text: str) -> QuietHours | None:
    if not text.strip():
        return None
    match = re.fullmatch(rf"\s*{_CLOCK}\s*-\s*{_CLOCK}\s*", text)
    if match is None:
        raise InvalidControl(f"REMINDER_QUIET_HOURS: not a span of hours: {text!r} (21:00-08:00)")
    start = time(int(match[1]), int(match[2]))
    end = time(int(match[3]), int(match[4]))
    if start == end:
        raise InvalidControl(f"REMINDER_QUIET_HOURS: start and end are the same: {text!r}")
    return QuietHours(start, end)


@lru_cache(maxsize=8)
def _parse_discounts(text: str) -> dict[int, Decimal]:
    steps: dict[int, Decimal] = {}
    for part in filter(None, (item.strip() for item in text.split(","))):
        match = re.fullmatch(r"(\d+)\s*:\s*(\d+(?:\.\d{1,2})?)\s*%", part)
        if match is None:
            raise InvalidControl(f"REMINDER_DISCOUNTS: not STEP:PERCENT%: {part!r} (2:10%)")
        step, percent = int(match[1]), Decimal(match[2])
        if step < 1 or not Decimal("0") < percent <= Decimal("100"):
            raise InvalidControl(f"REMINDER_DISCOUNTS: step from 1, percent 0-100: {part!r}")
        steps[step] = percent
    return steps


def quiet_hours() -> QuietHours | None:
    return _parse_quiet_hours(settings.REMINDER_QUIET_HOURS)


def frequency_cap() -> timedelta | None:
    """At most one reminder per address in this period; None: no cap."""
    return settings.REMINDER_FREQUENCY_CAP


def attribution_window() -> timedelta:
    return settings.REMINDER_ATTRIBUTION_WINDOW


def discount_valid_for() -> timedelta:
    return settings.REMINDER_DISCOUNT_VALID_FOR


def min_cart_value() -> Decimal:
    try:
        value = Decimal(str(settings.REMINDER_MIN_CART_VALUE).strip() or "0")
    except InvalidOperation as error:
        raise InvalidControl(
            f"REMINDER_MIN_CART_VALUE: not an amount: {settings.REMINDER_MIN_CART_VALUE!r}"
        ) from error
    if value < 0:
        raise InvalidControl("REMINDER_MIN_CART_VALUE: must not be negative")
    return value


def step_discounts() -> dict[int, Decimal]:
    """Series step -> percent off that step's email carries (``REMINDER_DISCOUNTS``)."""
    return _parse_discounts(settings.REMINDER_DISCOUNTS)


def controls_problems() -> list[str]:
    """What is wrong with the control settings (for the system check)."""
    problems = []
    for read in (quiet_hours, min_cart_value, step_discounts):
        try:
            read()
        except InvalidControl as error:
            problems.append(str(error))
    return problems


# --- Applying them -----------------------------------------------------------------------------


def reminder_due_at(moment: datetime) -> datetime:
    """When a reminder falling due at ``moment`` is sent: at the end of the quiet hours if
    it falls inside them, to the second (schedules have one-second resolution)."""
    hours = quiet_hours()
    if hours is not None and hours.contains(moment):
        moment = hours.end_after(moment)
    return moment.replace(microsecond=0)


def _address_lock(email: str) -> None:
    """Serialize the frequency check of one address across carts until the transaction
    ends, so two carts of one shopper falling due together send one email. SQLite takes
    the whole database's write lock at BEGIN (IMMEDIATE) and needs nothing more."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"reminder:{email}"])


def recently_emailed(*, email: str, exclude_id: int, now: datetime, cap: timedelta) -> bool:
    """Whether another reminder went (or is going) to ``email`` within ``cap`` of ``now``."""
    since = now - cap
    return (
        Reminder.objects.filter(email__iexact=email)
        .exclude(pk=exclude_id)
        .filter(
            Q(status=Reminder.Status.SENT, sent_at__gte=since)
            | Q(status=Reminder.Status.SENDING, updated_at__gte=since)
        )
        .exists()
    )


def _hours(span: timedelta) -> str:
    """``16h``, ``5d``, ``90m``: a duration as the settings write it."""
    seconds = span.total_seconds()
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{seconds / 86400:g}d"
    return f"{seconds / 3600:g}h" if seconds >= 3600 else f"{seconds / 60:g}m"


def sending_refusal(*, reminder: Reminder, email: str, offer: CartSummary) -> str:
    """Why the sending controls hold back a due reminder, or "" to send it. ``offer`` is
    what the email would show (:func:`notifications.offer.reminder_offer`). Runs inside
    the mailer's claim transaction, which it keeps holding the address's lock."""
    if not offer.lines:
        return "nothing in stock: every item is sold out or no longer sold"
    minimum = min_cart_value()
    if offer.total < minimum:
        return f"below the minimum cart value ({minimum:.2f} {offer.currency})"
    cap = frequency_cap()
    if cap is not None:
        _address_lock(email.lower())
        if recently_emailed(email=email, exclude_id=reminder.pk, now=timezone.now(), cap=cap):
            return f"frequency cap: this address had a reminder less than {_hours(cap)} ago"
    return ""


def controls_summary() -> list[tuple[str, str, str]]:
    """(setting, value in force, what it does) for the dashboard's read-only panel."""
    cap, hours, discounts = frequency_cap(), quiet_hours(), step_discounts()
    return [
        (
            "REMINDER_FREQUENCY_CAP",
            _hours(cap) if cap else "off",
            "At most one reminder per address in this period, across carts.",
        ),
        (
            "REMINDER_QUIET_HOURS",
            f"{hours} ({settings.TIME_ZONE})" if hours else "none",
            "A reminder due inside them is sent at their end.",
        ),
        (
            "REMINDER_MIN_CART_VALUE",
            f"{min_cart_value():.2f} {settings.SHOP_CURRENCY}",
            "Carts worth less (items in stock) get no reminder.",
        ),
        (
            "REMINDER_ATTRIBUTION_WINDOW",
            _hours(attribution_window()),
            "An order this soon after a reminder was sent or its link opened is recovered.",
        ),
        (
            "REMINDER_DISCOUNTS",
            ", ".join(
                f"step {step}: {percent_text(percent)}%"
                for step, percent in sorted(discounts.items())
            )
            or "none",
            f"Single-use codes, valid for {_hours(discount_valid_for())}.",
        ),
    ]
