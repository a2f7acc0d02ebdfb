"""The abandoned-cart email: text and HTML from templates, signed links, RFC 8058 headers."""

from __future__ import annotations

from email.utils import make_msgid, parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from cart.selectors import CartSummary
from notifications.models import Reminder
from notifications.tokens import recover_token_make, unsubscribe_token_make

TEMPLATE = "notifications/email/abandoned_cart"


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


def reminder_email_build(*, reminder: Reminder, summary: CartSummary) -> EmailMultiAlternatives:
    """The message for ``reminder``, ready to send; its Message-ID is set here so the log
    can record it."""
    unsubscribe = unsubscribe_url(email=reminder.email)
    context = {
        "reminder": reminder,
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
        "recover_url": recover_url(reminder=reminder),
        "unsubscribe_url": unsubscribe,
        "site_url": settings.SITE_URL,
    }
    # Headers cannot hold line breaks: the subject template is folded to one line.
    subject = " ".join(render_to_string(f"{TEMPLATE}.subject.txt", context).split())
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
    message.attach_alternative(render_to_string(f"{TEMPLATE}.html", context), "text/html")
    return message
