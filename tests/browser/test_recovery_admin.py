"""The recovery admin in Chromium at 1280 px: the dashboard, a reminder's email preview, and
the lists an owner reads, none scrolling sideways. Screenshots go to test-artifacts/recovery/
(the dashboard, the HTML email, each list)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.utils import timezone
from playwright.sync_api import expect

from cart.discounts import discount_code_issue
from cart.models import Cart, CartLine, Order
from eventbus.models import DeadLetter
from notifications.models import RecoveryFact, Reminder, SentEmail
from notifications.recovery_figures import recovery_figures
from tests.browser.conftest import ARTIFACTS

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

SCREENSHOTS = ARTIFACTS / "recovery"
WIDTH = 1280
Kind = RecoveryFact.Kind


def _seed(catalog) -> Reminder:
    """A month of facts, and a few reminders, codes and orders with long ids and reasons."""
    now = timezone.now()
    coffee, tea = catalog.get(sku="COF-001"), catalog.get(sku="TEA-001")
    reminder = None
    for number in range(12):
        moment = now - timedelta(days=number * 2, hours=1)
        cart = Cart.objects.create(email=f"shopper-{number}@example.com", consent=True)
        CartLine.objects.create(
            cart=cart,
            product=coffee,
            sku=coffee.sku,
            quantity=2,
            unit_price=coffee.price,
            currency="EUR",
        )
        CartLine.objects.create(
            cart=cart,
            product=tea,
            sku=tea.sku,
            quantity=1,
            unit_price=tea.price,
            currency="EUR",
        )
        status = [Reminder.Status.SENT, Reminder.Status.SKIPPED, Reminder.Status.PENDING][
            number % 3
        ]
        reminder = Reminder.objects.create(
            cart=cart,
            email=cart.email,
            status=status,
            reason="frequency cap: this address had a reminder less than 16h ago"
            if status == Reminder.Status.SKIPPED
            else "",
            due_at=now + timedelta(hours=number + 1) if status == "pending" else moment,
            activity_sequence=2,
            activity_at=moment - timedelta(hours=1),
            schedule_key=f"cart-reminder-{cart.pk}",
            sent_at=moment if status == Reminder.Status.SENT else None,
        )
        facts = [
            (Kind.CART_ACTIVE, {}),
            (Kind.CONTACT, {"sequence": 1, "reachable": True}),
            (Kind.SCHEDULED, {"reminder_id": reminder.pk, "step": 1}),
        ]
        if status == Reminder.Status.SENT:
            facts.append((Kind.SENT, {"reminder_id": reminder.pk, "step": 1}))
            SentEmail.objects.create(
                reminder=reminder,
                to=cart.email,
                subject="You left 3 items in your cart at Event Shop",
                message_id=f"<{number}.170000000000.{cart.pk}@shop.example.com>",
                sent_at=moment,
            )
        if status == Reminder.Status.SKIPPED:
            facts.append(
                (Kind.SKIPPED, {"reminder_id": reminder.pk, "step": 1, "reason": reminder.reason})
            )
        if number % 6 == 0:
            order = Order.objects.create(
                id=f"00000000-0000-4000-8000-{number:012d}",
                cart=cart,
                email=cart.email,
                total=Decimal("34.20"),
                currency="EUR",
                discount_code="",
            )
            code = discount_code_issue(
                reference=f"reminder-{reminder.pk}",
                percent=Decimal("10"),
                valid_for=timedelta(days=7),
                email=cart.email,
            )
            facts.append((Kind.LINK_OPENED, {"reminder_id": reminder.pk, "step": 1}))
            facts.append(
                (
                    Kind.RECOVERED,
                    {
                        "reminder_id": reminder.pk,
                        "step": 1,
                        "order_id": order.pk,
                        "amount": Decimal("34.20"),
                        "currency": "EUR",
                        "discount_code": code.code,
                    },
                )
            )
        for kind, fields in facts:
            RecoveryFact.objects.create(
                key=f"{kind}:{cart.pk}", kind=kind, occurred_at=moment, cart_id=cart.pk, **fields
            )
    DeadLetter.objects.create(
        subscription="abandoned-cart-mailer",
        event_id="6f1c2b3a-0d4e-4f5a-8b9c-0123456789ab",
        detail_type="CartReminderDue",
        error="SMTPServerDisconnected: Connection unexpectedly closed while sending the "
        "reminder email to a very long address that nobody would ever type by hand",
        attempts=5,
    )
    return Reminder.objects.filter(status=Reminder.Status.SENT).order_by("-pk").first()


@pytest.fixture
def admin_page(shared_shop_server, open_page, django_user_model):
    hasher = PBKDF2PasswordHasher()  # hashed as the server checks it
    django_user_model.objects.create(
        username="owner",
        is_staff=True,
        is_superuser=True,
        password=hasher.encode("s3cret-pass-word", hasher.salt(), iterations=1000),
    )
    page = open_page(width=WIDTH, height=900)
    page.goto(shared_shop_server.url + "/admin/login/")
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill("s3cret-pass-word")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Recovery dashboard")).to_be_visible()
    return page


def _fits(page, name: str) -> None:
    page.wait_for_load_state("load")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= WIDTH, f"{name} scrolls sideways at {WIDTH}px ({scroll_width}px)"
    # Nor does a box inside it (the admin's change list scrolls its own table sideways).
    scrolling = page.evaluate(
        """() => [...document.querySelectorAll("body *")].filter((element) => {
            const overflow = getComputedStyle(element).overflowX;
            return (overflow === "auto" || overflow === "scroll")
                && element.scrollWidth > element.clientWidth + 1;
        }).map((element) => `${element.tagName}.${element.className}: `
            + `${element.scrollWidth} > ${element.clientWidth}`)"""
    )
    columns = page.evaluate(
        """() => [...document.querySelectorAll("#result_list thead th")].map(
            (th) => `${th.textContent.trim()}: ${Math.round(th.getBoundingClientRect().width)}`)"""
    )
    assert scrolling == [], f"{name} at {WIDTH}px: {scrolling}; columns {columns}"


def test_the_dashboard_in_a_browser(admin_page, shared_shop_server, catalog):
    _seed(catalog)
    page = admin_page
    page.get_by_role("link", name="Recovery dashboard").click()

    expect(page.get_by_role("heading", name="Abandoned-cart recovery")).to_be_visible()
    expect(page.locator('[data-figure="sent"]')).to_have_text("4")  # days 0, 6, 12, 18
    expect(page.locator('[data-figure="orders_recovered"]')).to_have_text("2")
    expect(page.locator('[data-figure="revenue"]')).to_have_text("68.40 EUR")
    expect(page.locator("svg.pygal-chart")).to_be_visible()
    expect(page.get_by_text("Skipped: frequency cap")).to_be_visible()
    expect(page.get_by_role("cell", name="REMINDER_FREQUENCY_CAP")).to_be_visible()
    _fits(page, "dashboard-30-days")

    page.get_by_role("link", name="7 days").click()
    expect(page.locator('a[aria-current="page"]')).to_have_text("7 days")
    week = recovery_figures(days=7)  # 1 or 2: day 6 is in, unless the clock is near midnight
    expect(page.locator('[data-figure="sent"]')).to_have_text(str(week.sent))
    _fits(page, "dashboard-7-days")


def test_a_reminders_email_preview_in_a_browser(admin_page, shared_shop_server, catalog):
    reminder = _seed(catalog)
    page = admin_page
    page.goto(f"{shared_shop_server.url}/admin/notifications/reminder/{reminder.pk}/change/")
    expect(page.get_by_test_id("preview-text")).to_contain_text("Total:")
    frame = page.frame_locator("iframe[title='The HTML part']")
    expect(frame.get_by_role("link", name="Return to your cart")).to_be_visible()
    _fits(page, "reminder-detail")

    email = admin_page.context.new_page()
    email.set_viewport_size({"width": 700, "height": 900})
    # The email's images are absolute from SITE_URL (the default, port 8000): serve them
    # from this test's server.
    site = settings.SITE_URL
    email.route(
        f"{site}/**",
        lambda route: route.continue_(
            url=route.request.url.replace(site, shared_shop_server.url, 1)
        ),
    )
    email.goto(f"{shared_shop_server.url}/admin/notifications/reminder/{reminder.pk}/email.html")
    expect(email.get_by_role("link", name="Return to your cart")).to_be_visible()
    image = email.get_by_role("img", name="Ethiopia Yirgacheffe")
    expect(image).to_be_visible()
    email.wait_for_load_state("load")
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    email.screenshot(path=str(SCREENSHOTS / "reminder-email.png"), full_page=True)
    assert (SCREENSHOTS / "reminder-email.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    "path",
    [
        "notifications/reminder",
        "notifications/sentemail",
        "cart/cart",
        "cart/order",
        "cart/discountcode",
        "eventbus/outboxevent",
        "eventbus/deadletter",
        "shop/product",
    ],
)
def test_admin_lists_fit_1280px(admin_page, shared_shop_server, catalog, path):
    _seed(catalog)
    admin_page.goto(f"{shared_shop_server.url}/admin/{path}/")
    expect(admin_page.locator("#changelist")).to_be_visible()
    _fits(admin_page, "list-" + path.replace("/", "-"))
