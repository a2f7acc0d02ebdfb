"""Guest carts nobody touched for CART_RETENTION go, with their reminders and schedules;
so do expired sessions. Orders, accounts' carts and recent carts stay."""

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone

from cart.models import Cart, Order
from config.celery_app import app
from eventbus.models import ScheduledEvent
from notifications.models import Reminder
from notifications.retention import stale_carts_prune

pytestmark = pytest.mark.django_db


def age(cart_id, days: int) -> None:
    Cart.objects.filter(pk=cart_id).update(updated_at=timezone.now() - timedelta(days=days))


@pytest.fixture
def carts(shopper, user, settings):
    """An abandoned guest cart with a pending reminder, an old merged one, an old order,
    an old account's cart, and a recent guest cart."""
    settings.CART_RETENTION = timedelta(days=30)
    shopper.contact("ann@example.com")
    abandoned = shopper.add("COF-001")["cart_id"]
    assert Reminder.objects.filter(cart_id=abandoned, status="pending").exists()
    merged = Cart.objects.create(status=Cart.Status.MERGED)
    ordered = Cart.objects.create(status=Cart.Status.CHECKED_OUT)
    Order.objects.create(id=uuid.uuid4(), cart=ordered, total=0, currency="EUR")
    account = Cart.objects.create(user=user)
    recent = Cart.objects.create()
    for cart_id in (abandoned, merged.pk, ordered.pk, account.pk):
        age(cart_id, days=40)
    age(recent.pk, days=10)
    return {"abandoned": abandoned, "kept": {ordered.pk, account.pk, recent.pk}}


def test_stale_guest_carts_go_with_their_reminders_and_schedules(carts):
    report = stale_carts_prune()

    assert report.carts == 2
    assert report.reminders_cancelled == 1
    assert set(Cart.objects.values_list("pk", flat=True)) == carts["kept"]
    assert not Reminder.objects.exists()
    assert not ScheduledEvent.objects.exists()


def test_expired_sessions_go_too(db):
    expired, live = SessionStore(), SessionStore()
    for store in (expired, live):
        store["cart_id"] = "x"
        store.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    assert stale_carts_prune().sessions_cleared

    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


def test_the_command_prunes_and_says_so(carts):
    out = StringIO()

    call_command("prune_stale_carts", stdout=out)

    assert "pruned 2 guest carts (1 pending reminders cancelled)" in out.getvalue()
    assert set(Cart.objects.values_list("pk", flat=True)) == carts["kept"]


def test_beat_prunes_hourly():
    entry = django_settings.CELERY_BEAT_SCHEDULE["notifications-prune-stale-carts"]
    assert entry["schedule"] == 3600.0
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks
