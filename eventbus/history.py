"""The event history the outbox keeps: every published envelope stays for ``EVENT_RETENTION``
(then :mod:`eventbus.retention` prunes it), so consumers can rebuild a projection and
operators can trace what happened, within that window."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from eventbus.envelope import Envelope
from eventbus.models import OutboxEvent


def history_horizon(*, now: datetime | None = None) -> datetime:
    """Events from this moment on are all still in the outbox (pruning removes only rows
    published before ``now - EVENT_RETENTION``); older ones may be gone."""
    retention: timedelta = settings.EVENT_BUS["RETENTION"]
    return (now or timezone.now()) - retention


def history_envelopes(
    *,
    detail_types: Iterable[str] | None = None,
    since: datetime | None = None,
    detail_field: str | None = None,
    value: str | None = None,
) -> Iterator[Envelope]:
    """The outbox's envelopes in the order they were accepted, optionally only of
    ``detail_types``, from ``since`` on, and whose ``detail[detail_field]`` is ``value``.
    Failed rows (dead letters at publishing) are left out: no consumer ever got them."""
    rows = OutboxEvent.objects.exclude(status=OutboxEvent.Status.FAILED)
    if detail_types is not None:
        rows = rows.filter(detail_type__in=list(detail_types))
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if detail_field is not None:
        rows = rows.filter(**{f"envelope__detail__{detail_field}": value})
    for envelope in (
        rows.order_by("created_at", "id").values_list("envelope", flat=True).iterator(2000)
    ):
        yield Envelope.from_dict(envelope)
