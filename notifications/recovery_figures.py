"""The recovery dashboard's figures for a period, read from the projected facts only (so a
rebuild from the events gives the same figures), and the reminders due soon."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from notifications.models import RecoveryFact, Reminder

PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30
Kind = RecoveryFact.Kind


@dataclass(frozen=True)
class StepRate:
    step: int
    sent: int
    recovered: int

    @property
    def rate(self) -> float | None:
        return self.recovered / self.sent if self.sent else None


@dataclass(frozen=True)
class Day:
    day: date
    sent: int
    recovered: int


@dataclass(frozen=True)
class RecoveryFigures:
    days: int
    start: datetime
    end: datetime
    carts_with_items: int
    carts_reachable: int
    scheduled: int
    sent: int
    skipped: int
    skipped_by_reason: list[tuple[str, int]]
    cancelled: int
    cancelled_by_reason: list[tuple[str, int]]
    links_opened: int
    orders_recovered: int
    orders_with_discount: int
    revenue: list[tuple[str, Decimal]]
    steps: list[StepRate]
    daily: list[Day]

    def as_dict(self) -> dict[str, object]:
        """Every figure, for comparing two computations (a rebuild must not change one)."""
        return {
            "carts_with_items": self.carts_with_items,
            "carts_reachable": self.carts_reachable,
            "scheduled": self.scheduled,
            "sent": self.sent,
            "skipped_by_reason": self.skipped_by_reason,
            "cancelled_by_reason": self.cancelled_by_reason,
            "links_opened": self.links_opened,
            "orders_recovered": self.orders_recovered,
            "orders_with_discount": self.orders_with_discount,
            "revenue": self.revenue,
            "steps": [(item.step, item.sent, item.recovered) for item in self.steps],
            "daily": [(item.day, item.sent, item.recovered) for item in self.daily],
        }


def period_start(*, days: int, now: datetime) -> datetime:
    """Midnight (shop time) of the first of the ``days`` days that end today."""
    first = timezone.localdate(now) - timedelta(days=days - 1)
    return timezone.make_aware(datetime.combine(first, datetime.min.time()))


def _by_reason(facts: QuerySet[RecoveryFact]) -> list[tuple[str, int]]:
    rows = facts.values("reason").annotate(count=Count("id")).order_by("-count", "reason")
    return [(row["reason"], row["count"]) for row in rows]


def _reachable_carts(active: QuerySet[RecoveryFact]) -> int:
    """Carts whose newest contact event gave a confirmed address and consent, or that had a
    reminder scheduled (a signed-in shopper's merged cart has consent without an event)."""
    newest_contact = (
        RecoveryFact.objects.filter(kind=Kind.CONTACT, cart_id=OuterRef("cart_id"))
        .order_by("-sequence")
        .values("reachable")[:1]
    )
    scheduled = RecoveryFact.objects.filter(kind=Kind.SCHEDULED, cart_id=OuterRef("cart_id"))
    return (
        active.annotate(contact_reachable=Subquery(newest_contact), reminded=Exists(scheduled))
        .filter(Q(contact_reachable=True) | Q(reminded=True))
        .values("cart_id")
        .distinct()
        .count()
    )


def recovery_figures(*, days: int = DEFAULT_PERIOD, now: datetime | None = None) -> RecoveryFigures:
    """The figures of the ``days`` days ending ``now`` (today included)."""
    if days not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS} days, not {days}")
    end = now or timezone.now()
    start = period_start(days=days, now=end)
    facts = RecoveryFact.objects.filter(occurred_at__gte=start, occurred_at__lte=end)

    def of(kind: str) -> QuerySet[RecoveryFact]:
        return facts.filter(kind=kind)

    active = of(Kind.CART_ACTIVE)
    sent, recovered = of(Kind.SENT), of(Kind.RECOVERED)
    skipped, cancelled = of(Kind.SKIPPED), of(Kind.CANCELLED)
    revenue = recovered.values("currency").annotate(total=Sum("amount")).order_by("currency")
    sent_by_step = dict(sent.values_list("step").annotate(count=Count("id")))
    recovered_by_step = dict(recovered.values_list("step").annotate(count=Count("id")))
    daily_sent = dict(
        sent.annotate(day=TruncDate("occurred_at", tzinfo=timezone.get_current_timezone()))
        .values_list("day")
        .annotate(count=Count("id"))
    )
    daily_recovered = dict(
        recovered.annotate(day=TruncDate("occurred_at", tzinfo=timezone.get_current_timezone()))
        .values_list("day")
        .annotate(count=Count("id"))
    )
    first_day = timezone.localdate(start)
    calendar = [first_day + timedelta(days=offset) for offset in range(days)]
    return RecoveryFigures(
        days=days,
        start=start,
        end=end,
        carts_with_items=active.values("cart_id").distinct().count(),
        carts_reachable=_reachable_carts(active),
        scheduled=of(Kind.SCHEDULED).count(),
        sent=sent.count(),
        skipped=skipped.count(),
        skipped_by_reason=_by_reason(skipped),
        cancelled=cancelled.count(),
        cancelled_by_reason=_by_reason(cancelled),
        links_opened=of(Kind.LINK_OPENED).count(),
        orders_recovered=recovered.count(),
        orders_with_discount=recovered.exclude(discount_code="").count(),
        revenue=[(row["currency"], row["total"]) for row in revenue],
        steps=[
            StepRate(step, sent_by_step.get(step, 0), recovered_by_step.get(step, 0))
            for step in sorted(set(sent_by_step) | set(recovered_by_step))
        ],
        daily=[Day(day, daily_sent.get(day, 0), daily_recovered.get(day, 0)) for day in calendar],
    )


def reminders_due_soon(*, now: datetime | None = None, within: timedelta = timedelta(hours=24)):
    """Pending reminders due in the next ``within``, soonest first: the live schedule
    (not history), so read from the reminders themselves."""
    moment = now or timezone.now()
    return (
        Reminder.objects.filter(
            status=Reminder.Status.PENDING, due_at__gte=moment, due_at__lt=moment + within
        )
        .select_related("cart")
        .order_by("due_at")
    )
