"""The event history the outbox keeps: every published envelope stays for ``EVENT_RETENTION``
(then :mod:`eventbus.retention` prunes it), so consumers can rebuild a projection, a new
consumer can catch up (:mod:`eventbus.backfill`) and operators can trace what happened,
within that window."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, QuerySet
from django.utils import timezone

from eventbus.envelope import Envelope
from eventbus.models import OutboxEvent

# The order events were accepted in. Envelope times (and so ``created_at``) are to the
# second, so one second can hold several events of one cart; their ``sequence`` orders them
# as the cart accepted them (the id alone would shuffle them). A cart's next event is only
# accepted once the previous one committed, so (on machines whose clocks agree) its events
# never go back in time.
HISTORY_ORDER = (
    "created_at",
    F("envelope__detail__cart_id").asc(nulls_first=True),
    F("envelope__detail__sequence").asc(nulls_first=True),
    "id",
)


def history_horizon(*, now: datetime | None = None) -> datetime:
    """Events from this moment on are all still in the outbox (pruning removes only rows
    published before ``now - EVENT_RETENTION``); older ones may be gone."""
    retention: timedelta = settings.EVENT_BUS["RETENTION"]
    return (now or timezone.now()) - retention


def _history(
    *,
    detail_types: Iterable[str] | None,
    since: datetime | None,
    until: datetime | None,
    detail_field: str | None,
    value: str | None,
) -> QuerySet[OutboxEvent]:
    # Failed rows (dead letters at publishing) are left out: no consumer ever got them.
    rows = OutboxEvent.objects.exclude(status=OutboxEvent.Status.FAILED)
    if detail_types is not None:
        rows = rows.filter(detail_type__in=list(detail_types))
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    if detail_field is not None:
        rows = rows.filter(**{f"envelope__detail__{detail_field}": value})
    return rows


def history_envelopes(
    *,
    detail_types: Iterable[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    detail_field: str | None = None,
    value: str | None = None,
) -> Iterator[Envelope]:
    """The outbox's envelopes in the order they were accepted (:data:`HISTORY_ORDER`),
    optionally only of ``detail_types``, from ``since`` on, before ``until``, and whose
    ``detail[detail_field]`` is ``value``."""
    rows = _history(
        detail_types=detail_types,
        since=since,
        until=until,
        detail_field=detail_field,
        value=value,
    )
    for envelope in rows.order_by(*HISTORY_ORDER).values_list("envelope", flat=True).iterator(2000):
        yield Envelope.from_dict(envelope)


def history_count(
    *,
    detail_types: Iterable[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """How many envelopes :func:`history_envelopes` yields for the same arguments."""
    return _history(
        detail_types=detail_types, since=since, until=until, detail_field=None, value=None
    ).count()
