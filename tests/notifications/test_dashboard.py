"""The recovery dashboard: a seeded scenario of carts, reminders and orders, driven through
the real services and subscriptions, gives figures that this test computes on its own from
the carts, reminders and orders; rebuilding the projection from the events gives the same."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Count, Q, Sum
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from cart.models import Cart, Order
from eventbus.retention import prune_bus_records
from notifications.models import RecoveryFact, Reminder
from notifications.recovery_figures import period_start, recovery_figures
from tests.notifications.conftest import HOUR, Shopper, confirm_address, restore
from tests.notifications.test_admin import staff  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def recover_path(message) -> str:
    return re.search(r"https://shop\.example\.com(/notifications/recover/[^/\s]+/)", message.body)[
        1
    ]


@pytest.fixture
def scenario(catalog, deliver, fire_due, mailoutbox, settings):
    """Nine carts over ten days: reminded, recovered (one with its discount code), skipped,
    cancelled, unreachable. Returns the moment the scenario ends."""
    settings.REMINDER_DISCOUNTS = "1:10%"
    settings.REMINDER_FREQUENCY_CAP = None
    now = datetime.now(UTC).replace(microsecond=0)

    def shopper() -> Shopper:
        return Shopper(APIClient(), deliver)

    def abandon(email: str | None, *items: str, consent: bool = True) -> Shopper:
        buyer = shopper()
        if email is not None:
            buyer.contact(email, consent=consent)
        for sku in items:
            buyer.add(sku)
        return buyer

    # Ten days ago: a cart reminded, never bought.
    with time_machine.travel(now - timedelta(days=10), tick=False):
        abandon("old@example.com", "COF-001")
    with time_machine.travel(now - timedelta(days=10) + 2 * HOUR, tick=False):
        fire_due()

    # Two days ago: the others.
    start = now - timedelta(days=2)
    with time_machine.travel(start, tick=False):
        linked = abandon("ann@example.com", "COF-001", "TEA-001")
        direct = abandon("bob@example.com", "TEA-001")
        abandon("cy@example.com", "COF-002")  # sold out when due: skipped
        hasty = abandon("dee@example.com", "COF-001")  # buys before the reminder
        abandon(None, "COF-001")  # no address
        abandon("eve@example.com", "TEA-001", consent=False)  # no consent
        abandon("fay@example.com", "COF-001")  # reminded, never bought
        abandon("gus@example.com", "TEA-001")  # reminded, opens the link, never buys
    with time_machine.travel(start + timedelta(minutes=30), tick=False):
        hasty.checkout()
    catalog.filter(sku="COF-002").update(stock=0)
    with time_machine.travel(start + 2 * HOUR, tick=False):
        fire_due()
    emails = {message.to[0]: message for message in mailoutbox}
    with time_machine.travel(start + 3 * HOUR, tick=False):
        restore(linked.client, recover_path(emails["ann@example.com"]))  # puts the code on
        deliver()
        restore(Client(), recover_path(emails["gus@example.com"]))  # in another browser
        deliver()
    with time_machine.travel(start + 4 * HOUR, tick=False):
        linked.checkout()  # with the email's code
        direct.checkout()  # without
    return now


def expected(days: int, now: datetime) -> dict[str, object]:
    """The figures, from the carts, reminders and orders themselves (not from the facts)."""
    start = period_start(days=days, now=now)
    carts = Cart.objects.filter(created_at__gte=start).filter(
        Q(lines__isnull=False) | Q(order__isnull=False)
    )
    reminders = Reminder.objects.all()
    sent = reminders.filter(sent_at__gte=start)
    recovered = reminders.filter(recovered_at__gte=start)
    orders = Order.objects.filter(pk__in=recovered.values("recovered_order_id"))
    by_reason = lambda status: [  # noqa: E731
        (row["reason"], row["count"])
        for row in reminders.filter(status=status, updated_at__gte=start)
        .values("reason")
        .annotate(count=Count("id"))
        .order_by("-count", "reason")
    ]
    daily: dict = {}
    for reminder in sent:
        day = timezone.localdate(reminder.sent_at)
        daily[day] = daily.get(day, 0) + 1
    return {
        "carts_with_items": carts.distinct().count(),
        "carts_reachable": carts.filter(consent=True, email_confirmed=True)
        .exclude(email="")
        .distinct()
        .count(),
        "scheduled": reminders.filter(created_at__gte=start).count(),
        "sent": sent.count(),
        "skipped_by_reason": by_reason(Reminder.Status.SKIPPED),
        "cancelled_by_reason": by_reason(Reminder.Status.CANCELLED),
        "links_opened": reminders.filter(clicked_at__gte=start).count(),
        "orders_recovered": recovered.count(),
        "orders_with_discount": orders.exclude(discount_code="").count(),
        "revenue": [("EUR", orders.aggregate(total=Sum("total"))["total"])],
        "steps": [(1, sent.count(), recovered.count())],
        "daily_sent": daily,
    }


def computed(days: int, now: datetime) -> dict[str, object]:
    figures = recovery_figures(days=days, now=now).as_dict()
    figures["daily_sent"] = {day: count for day, count, _ in figures.pop("daily") if count}
    return figures


def test_the_scenario_gives_the_figures_computed_from_carts_reminders_and_orders(scenario):
    now = scenario
    thirty = computed(30, now)

    assert thirty == expected(30, now)
    # The story in numbers, so a figure that is wrong the same way on both sides shows too.
    assert thirty["carts_with_items"] == 9
    assert thirty["carts_reachable"] == 7
    assert thirty["scheduled"] == 7 and thirty["sent"] == 5
    assert thirty["skipped_by_reason"] == [
        ("nothing in stock: every item is sold out or no longer sold", 1)
    ]
    assert thirty["cancelled_by_reason"] == [("checked out", 1)]
    assert thirty["links_opened"] == 2
    assert thirty["orders_recovered"] == 2 and thirty["orders_with_discount"] == 1
    with_code = Order.objects.get(email="ann@example.com")
    assert with_code.discount_code and with_code.discount_amount > 0
    without = Order.objects.get(email="bob@example.com")
    assert thirty["revenue"] == [("EUR", with_code.total + without.total)]
    assert thirty["steps"] == [(1, 5, 2)]


def test_an_address_counts_as_reachable_once_its_owner_confirmed_it(shopper):
    shopper.contact("hal@example.com", confirm=False)  # consent, no confirmation yet
    shopper.add()
    assert recovery_figures(days=7).carts_reachable == 0
    assert not Reminder.objects.exists()

    confirm_address("hal@example.com")
    shopper.deliver()

    assert recovery_figures(days=7).carts_reachable == 1
    assert Reminder.objects.get().email == "hal@example.com"


def test_a_shorter_period_leaves_out_the_older_reminders(scenario):
    now = scenario
    seven = computed(7, now)

    assert seven == expected(7, now)
    assert seven["sent"] == 4 and seven["carts_with_items"] == 8
    figures = recovery_figures(days=7, now=now)
    assert len(figures.daily) == 7 and figures.daily[-1].day == timezone.localdate(now)


def test_rebuilding_from_the_event_history_gives_the_same_figures(scenario):
    now = scenario
    before = {days: recovery_figures(days=days, now=now).as_dict() for days in (7, 30, 90)}
    facts = RecoveryFact.objects.count()

    call_command("rebuild_recovery_dashboard")  # the last EVENT_RETENTION (14 days)
    assert {days: recovery_figures(days=days, now=now).as_dict() for days in (7, 30, 90)} == before

    RecoveryFact.objects.all().delete()
    call_command("rebuild_recovery_dashboard", "--all")
    assert RecoveryFact.objects.count() == facts
    assert {days: recovery_figures(days=days, now=now).as_dict() for days in (7, 30, 90)} == before


def test_after_pruning_a_rebuild_keeps_the_facts_whose_events_are_gone(scenario, settings):
    now = scenario
    before = recovery_figures(days=30, now=now).as_dict()
    settings.EVENT_BUS = {**settings.EVENT_BUS, "RETENTION": timedelta(days=5)}
    assert prune_bus_records().outbox_events > 0  # the cart of ten days ago

    call_command("rebuild_recovery_dashboard")  # facts of the last 5 days made again
    assert recovery_figures(days=30, now=now).as_dict() == before

    call_command("rebuild_recovery_dashboard", "--all")  # from what is left: less
    assert recovery_figures(days=30, now=now).sent == before["sent"] - 1


# --- The page -----------------------------------------------------------------------------------


def figure(html: str, name: str) -> str:
    return re.search(rf'data-figure="{name}">([^<]*)<', html)[1]


def test_the_dashboard_shows_the_figures_the_chart_and_the_controls(
    scenario,
    staff,  # noqa: F811
    settings,
):
    settings.REMINDER_QUIET_HOURS = "21:00-08:00"
    html = staff.get("/admin/recovery/").content.decode()
    figures = recovery_figures(days=30)

    assert 'aria-current="page">30 days' in html  # the default period
    for name in ("carts_with_items", "carts_reachable", "scheduled", "sent", "skipped"):
        assert figure(html, name) == str(getattr(figures, name))
    assert figure(html, "orders_recovered") == "2" and figure(html, "links_opened") == "2"
    assert figure(html, "revenue") == f"{figures.revenue[0][1]:.2f} EUR"
    assert '<tr data-step="1"><td>1</td><td class="number">5</td>' in html
    assert "Skipped: nothing in stock" in html and "Cancelled: checked out" in html
    assert 'class="pygal-chart"' in html and "Reminders sent" in html
    assert "21:00-08:00" in html and "step 1: 10%" in html and "16h" not in html  # cap off
    # Nothing is loaded from elsewhere: no script, no external stylesheet or image.
    assert '<script src="http' not in html and not re.search(r'(src|href)="https?://', html)

    seven = staff.get("/admin/recovery/?days=7").content.decode()
    assert figure(seven, "sent") == "4" and 'aria-current="page">7 days' in seven


def test_the_dashboard_lists_the_reminders_due_in_the_next_day(shopper, staff):  # noqa: F811
    shopper.contact("soon@example.com")
    shopper.add()  # due in an hour

    html = staff.get("/admin/recovery/").content.decode()

    due = html[html.index('data-testid="due-soon"') :]
    assert "soon@example.com" in due[: due.index("</table>")]


def test_a_period_other_than_7_30_or_90_days_is_a_400(staff):  # noqa: F811
    response = staff.get("/admin/recovery/?days=13")
    assert response.status_code == 400
    assert "The period must be 7, 30 or 90 days." in response.content.decode()


def test_only_staff_who_may_view_reminders_see_the_dashboard(db, user, django_user_model):
    anonymous = Client().get("/admin/recovery/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")
    customer = Client()
    customer.force_login(user)
    assert customer.get("/admin/recovery/").status_code == 302
    clerk = Client()
    clerk.force_login(
        django_user_model.objects.create_user(username="clerk", password="x", is_staff=True)
    )
    assert clerk.get("/admin/recovery/").status_code == 403


def test_the_admin_index_names_the_shop_and_links_the_dashboard(staff, settings):  # noqa: F811
    settings.SHOP_NAME = "Kaffee Kontor"
    html = staff.get("/admin/").content.decode()
    assert "Kaffee Kontor administration" in html
    assert '<a href="/admin/recovery/">Recovery dashboard</a>' in html
