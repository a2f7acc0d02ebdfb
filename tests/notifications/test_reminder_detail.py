"""A reminder's admin page: why it ended as it did, its cart's timeline from the outbox,
and a preview of its email (both parts); the email itself as shop owners expect it; long
ids shortened in lists."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from cart.models import Cart
from eventbus.models import OutboxEvent
from notifications.models import Reminder
from tests.notifications.conftest import HOUR
from tests.notifications.test_admin import staff  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

SITE = "https://shop.example.com"


def change_page(client, reminder) -> str:
    response = client.get(f"/admin/notifications/reminder/{reminder.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def detail_rows(table: str) -> list[tuple[str, str, str, str]]:
    """(time, event, sequence, detail) of each timeline row."""
    return [
        (time, kind, sequence, detail)
        for time, kind, sequence, detail in re.findall(
            r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>(\d*)</td><td><code>[^<]*</code></td>"
            r"<td>([^<]*)</td></tr>",
            table,
        )
    ]


@pytest.fixture
def pending(shopper):
    shopper.client.credentials(HTTP_X_REQUEST_ID="req-contact-1")
    shopper.contact("ann@example.com")
    shopper.client.credentials(HTTP_X_REQUEST_ID="req-add-2")
    shopper.add("COF-001", 2)
    shopper.add("TEA-001", 1)
    return Reminder.objects.get()


def test_the_timeline_lists_the_carts_events_with_sequence_and_correlation_id(
    pending,
    staff,  # noqa: F811
):
    html = change_page(staff, pending)
    table = html[html.index('data-testid="timeline"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>(\d*)</td><td><code>", table)
    cart_events = [(kind, sequence) for _, kind, sequence in rows if sequence]
    assert cart_events == [
        ("CartContactChanged", "1"),  # the address, with consent, unconfirmed
        ("CartContactChanged", "2"),  # its owner followed the confirmation email's link
        ("ItemAddedToCart", "3"),
        ("ItemAddedToCart", "4"),
    ]
    contact_rows = [summary for _, kind, _, summary in detail_rows(table) if "Contact" in kind]
    assert contact_rows == ["consent, not confirmed yet", "consent, confirmed"]
    assert [kind for _, kind, sequence in rows if not sequence] == ["CartReminderScheduled"]
    assert "<code>req-contact-1</code>" in table and "<code>req-add-2</code>" in table
    assert "sku COF-001, quantity 2" in table
    stored = OutboxEvent.objects.filter(detail_type="ItemAddedToCart").order_by("created_at")[0]
    assert timezone.localtime(stored.created_at).strftime("%Y-%m-%d %H:%M:%S") in table
    assert "the outbox keeps them for EVENT_RETENTION, 14 days" in html


def test_an_old_cart_says_its_first_events_were_pruned(pending, staff):  # noqa: F811
    Cart.objects.filter(pk=pending.cart_id).update(created_at=timezone.now() - timedelta(days=20))
    OutboxEvent.objects.filter(detail_type="CartContactChanged").delete()  # as pruning would

    html = change_page(staff, pending)

    assert "this cart is older, so its events before" in html and "have been pruned" in html
    assert "CartContactChanged" not in html[html.index('data-testid="timeline"') :]


def test_a_skipped_reminder_says_why(shopper, clock, fire_due, catalog, staff):  # noqa: F811
    clock.set(datetime.now(UTC) - 2 * HOUR)
    shopper.contact()
    shopper.add("TEA-001")
    clock.set(datetime.now(UTC))
    catalog.filter(sku="TEA-001").update(stock=0)
    fire_due()

    html = change_page(staff, Reminder.objects.get())

    assert (
        '<strong data-testid="reminder-outcome">Skipped when it fell due: nothing in stock: '
        "every item is sold out or no longer sold</strong>" in html
    )
    assert "CartReminderSkipped" in html and "CartReminderDue" in html


def test_a_cancelled_reminder_says_why(pending, shopper, staff):  # noqa: F811
    shopper.checkout()

    html = change_page(staff, Reminder.objects.get())

    assert "Cancelled before it fell due: checked out" in html
    assert "CartCheckedOut" in html and "CartReminderCancelled" in html


def test_the_preview_shows_both_parts_of_the_email_with_links_that_lead_nowhere(
    pending,
    staff,  # noqa: F811
    catalog,
):
    html = change_page(staff, pending)
    text = re.search(r'data-testid="preview-text"[^>]*>(.*?)</pre>', html, re.S)[1]
    coffee, tea = catalog.get(sku="COF-001"), catalog.get(sku="TEA-001")
    assert f"{coffee.name} (COF-001): 2 x {coffee.price} EUR" in text
    assert f"{tea.name} (TEA-001): 1 x {tea.price} EUR" in text
    assert f"Total: {coffee.price * 2 + tea.price:.2f} EUR" in text
    assert '<strong data-testid="preview-subject">You left 3 items in your cart at Event Shop' in (
        html
    )
    url = f"/admin/notifications/reminder/{pending.pk}/email.html"
    assert f'<iframe src="{url}"' in html and 'sandbox="allow-same-origin"' in html

    response = staff.get(url)
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "script-src 'none'" in response["Content-Security-Policy"]
    part = response.content.decode()
    assert coffee.name in part and tea.name in part and "Return to your cart" in part
    # A preview restores no cart and unsubscribes no one.
    assert "/notifications/recover/" not in part + text
    assert f"{SITE}/notifications/unsubscribe/preview/" in part
    assert Reminder.objects.get().clicked_at is None


def test_the_preview_needs_staff(pending, client):
    response = client.get(f"/admin/notifications/reminder/{pending.pk}/email.html")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_preview_shows_the_discount_a_step_will_carry(pending, staff, settings):  # noqa: F811
    settings.REMINDER_DISCOUNTS = "1:15%"
    part = staff.get(f"/admin/notifications/reminder/{pending.pk}/email.html").content.decode()
    assert "15% off this cart" in part and "XXXX-XXXX-XXXX" in part


# --- The email ----------------------------------------------------------------------------------


@pytest.fixture
def email(user, clock, fire_due, mailoutbox, settings, catalog, deliver):
    """A signed-in shopper's reminder, with the shop's logo, contact and address set."""
    settings.SHOP_NAME = "Kaffee Kontor"
    settings.SHOP_LOGO_URL = "/static/shop/logo.png"
    settings.SHOP_CONTACT_EMAIL = "hello@kaffee.example"
    settings.SHOP_ADDRESS = "Kontorweg 1; 20095 Hamburg"
    user.first_name = "Alice"
    user.save()
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(user)
    clock.set(datetime.now(UTC) - 2 * HOUR)
    assert client.put("/api/cart/contact/", {"email": "", "consent": True}, format="json")
    client.post("/api/cart/items/", {"sku": "COF-001", "quantity": 1}, format="json")
    deliver()
    clock.set(datetime.now(UTC))
    fire_due()
    [message] = mailoutbox
    return message


def test_the_email_has_what_shop_owners_expect(email, catalog):
    html = email.alternatives[0][0]
    coffee = catalog.get(sku="COF-001")

    assert f'<img src="{SITE}/static/shop/logo.png" alt="Kaffee Kontor"' in html  # header
    assert "Hi Alice, you left something in your cart" in html
    assert email.body.startswith("Hi Alice,")
    preheader = re.search(r'<div class="preheader" style="[^"]*display: none[^"]*">([^<]+)<', html)
    assert preheader and f"{coffee.name} — {coffee.price} EUR, saved for you." in preheader[1]
    assert f'src="{SITE}{coffee.image.url}"' in html and f'alt="{coffee.name}"' in html
    assert "Quantity 1" in html and f"{coffee.price} EUR" in html
    buttons = re.findall(r'<a class="button" href="([^"]+)"[^>]*>Return to your cart</a>', html)
    assert len(buttons) == 1 and buttons[0].startswith(f"{SITE}/notifications/recover/")
    assert "hello@kaffee.example" in html and "Kontorweg 1<br>20095 Hamburg" in html
    assert "hello@kaffee.example" in email.body and "20095 Hamburg" in email.body
    assert email.subject == "You left 1 item in your cart at Kaffee Kontor"


def test_the_email_is_tables_with_inline_css_and_absolute_links(email):
    html = email.alternatives[0][0]

    assert "<style" not in html  # mail clients drop it: every rule is inlined
    assert re.search(r'<a class="button" href="[^"]+" style="[^"]*background-color: #6b3e26', html)
    assert html.count('role="presentation"') >= 3
    links = re.findall(r'(?:href|src)="([^"]+)"', html)
    assert links and all(link.startswith((SITE, "mailto:")) for link in links), links


def test_a_guest_is_greeted_without_a_name(shopper, clock, fire_due, mailoutbox):
    clock.set(datetime.now(UTC) - 2 * HOUR)
    shopper.contact()
    shopper.add()
    clock.set(datetime.now(UTC))
    fire_due()
    [message] = mailoutbox
    assert message.body.startswith("Hello,")
    assert "You left something in your cart" in message.alternatives[0][0]


# --- Lists --------------------------------------------------------------------------------------


def test_long_ids_are_shortened_with_the_full_value_on_hover(pending, shopper, staff):  # noqa: F811
    shopper.checkout()
    cart = Cart.objects.get()
    carts = staff.get("/admin/cart/cart/").content.decode()
    assert f'<span class="short-id" title="{cart.pk}"' in carts
    assert f">{str(cart.pk)[:8]}…</span>" in carts
    orders = staff.get("/admin/cart/order/").content.decode()
    assert f'title="{cart.order.pk}"' in orders
    reminders = staff.get("/admin/notifications/reminder/").content.decode()
    assert f'title="cart-reminder-{cart.pk}"' in reminders
