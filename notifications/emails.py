"""The abandoned-cart email: text and HTML from templates, signed links, RFC 8058 headers.

The HTML is laid out in tables with a stylesheet that css-inline copies into ``style``
attributes when the message is built, because common mail clients drop ``<style>``.
"""

from __future__ import annotations

from email.utils import make_msgid, parseaddr
from typing import Any
from urllib.parse import urlsplit

import css_inline
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from cart.selectors import CartSummary
from notifications.controls import discount_valid_for, step_discounts
from notifications.models import Reminder
from notifications.tokens import recover_token_make, unsubscribe_token_make

TEMPLATE = "notifications/email/abandoned_cart"
# Never fetch a stylesheet while building a message: everything is in the template.
_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


def absolute_url(path_or_url: str) -> str:
    """Links in an email need scheme and host; media on a CDN is absolute already."""
    if urlsplit(path_or_url).scheme:
        return path_or_url
    return f"{settings.SITE_URL}/{path_or_url.lstrip('/')}"


def unsubscribe_url(*, email: str) -> str:
    token = unsubscribe_token_make(email=email)
    return absolute_url(reverse("notifications:unsubscribe", args=[token]))


def recover_url(*, reminder: Reminder) -> str:
    token = recover_token_make(link_token=reminder.link_token)
    return absolute_url(reverse("notifications:recover", args=[token]))


def _unsubscribe_mailto() -> str:
    address = settings.REMINDER_UNSUBSCRIBE_MAILTO or parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return f"mailto:{address}?subject=unsubscribe"


def _shop() -> dict[str, str]:
    return {
        "name": settings.SHOP_NAME,
        "logo_url": absolute_url(settings.SHOP_LOGO_URL) if settings.SHOP_LOGO_URL else "",
        "contact_email": settings.SHOP_CONTACT_EMAIL or parseaddr(settings.DEFAULT_FROM_EMAIL)[1],
        "address_lines": [
            line.strip() for line in settings.SHOP_ADDRESS.split(";") if line.strip()
        ],
        "url": absolute_url("/"),
    }


def _discount(reminder: Reminder, *, preview: bool) -> dict[str, Any] | None:
    code = reminder.discount_code
    if code is not None:
        return {"code": code.code, "percent": code.percent, "expires_at": code.expires_at}
    percent = step_discounts().get(reminder.step)
    if preview and percent is not None:
        # Not issued before the email is sent; the preview shows what it will look like.
        expires = timezone.now() + discount_valid_for()
        return {"code": "XXXX-XXXX-XXXX", "percent": percent, "expires_at": expires}
    return None


def _greeting_name(reminder: Reminder) -> str:
    user = reminder.cart.user if reminder.cart.user_id else None
    return (user.first_name or "").strip() if user is not None else ""


def reminder_email_build(
    *, reminder: Reminder, summary: CartSummary, preview: bool = False
) -> EmailMultiAlternatives:
    """The message for ``reminder`` showing ``summary``'s lines, ready to send; its
    Message-ID is set here so the log can record it. ``preview`` (the admin's) has links
    that lead nowhere, so looking at it neither restores a cart nor unsubscribes anyone."""
    if preview:
        recover = absolute_url(reverse("cart:page"))
        unsubscribe = absolute_url(reverse("notifications:unsubscribe", args=["preview"]))
    else:
        recover = recover_url(reminder=reminder)
        unsubscribe = unsubscribe_url(email=reminder.email)
    count = sum(line.quantity for line in summary.lines)
    context = {
        "reminder": reminder,
        "shop": _shop(),
        "greeting_name": _greeting_name(reminder),
        "item_count": count,
        "lines": [
            {
                "name": line.product.name,
                "sku": line.sku,
                "image_url": absolute_url(line.product.image.url) if line.product.image else "",
                "product_url": absolute_url(line.product.get_absolute_url()),
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "line_total": line.line_total,
                "currency": line.currency,
            }
            for line in summary.lines
        ],
        "total": summary.total,
        "currency": summary.currency,
        "discount": _discount(reminder, preview=preview),
        "recover_url": recover,
        "unsubscribe_url": unsubscribe,
        "site_url": settings.SITE_URL,
    }
    # Headers cannot hold line breaks: the subject template is folded to one line.
    subject = " ".join(render_to_string(f"{TEMPLATE}.subject.txt", context).split())
    context["preheader"] = " ".join(render_to_string(f"{TEMPLATE}.preheader.txt", context).split())
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{TEMPLATE}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[reminder.email],
        headers={
            "Message-ID": make_msgid(domain=domain),
            # RFC 8058: mail clients offer one-click unsubscribe with a POST to this URL.
            "List-Unsubscribe": f"<{unsubscribe}>, <{_unsubscribe_mailto()}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    html = _INLINER.inline(render_to_string(f"{TEMPLATE}.html", context))
    message.attach_alternative(html, "text/html")
    return message
