"""The confirmation email of a guest's reminder address (double opt-in).

The cart records an address given with consent as unconfirmed and says so in its
``CartContactChanged``; this consumer sends that address one email with a signed,
expiring link, and the link's page asks the cart to confirm it (``cart_contact_confirm``).
Until then the address gets nothing else: the eligibility rule refuses reminders to it.
"""

from __future__ import annotations

import logging
from email.utils import make_msgid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timeuntil

from cart.selectors import cart_get
from notifications.emails import absolute_url
from notifications.selectors import email_is_suppressed, email_normalize
from notifications.tokens import confirm_token_make

logger = logging.getLogger(__name__)

TEMPLATE = "notifications/email/confirm_contact"


def confirm_url(*, cart_id: str, email: str) -> str:
    token = confirm_token_make(cart_id=cart_id, email=email)
    return absolute_url(reverse("notifications:confirm", args=[token]))


def contact_confirmation_send(*, cart_id: str, email: str) -> bool:
    """Send ``email`` its confirmation link for the guest cart ``cart_id`` if it still needs
    one: the cart still has that address, unconfirmed, with consent, and the address never
    unsubscribed. Returns whether an email went out.

    Not in a transaction (nothing is held while the mail server answers); a redelivery
    after a crash between sending and the bus's processed mark may send it twice, which a
    confirmation email survives.
    """
    cart = cart_get(cart_id=cart_id)
    if cart is None or cart.user_id is not None or not cart.is_open:
        logger.info("confirmation for cart %s: no open guest cart; not sent", cart_id)
        return False
    if email_normalize(cart.email) != email_normalize(email):
        logger.info("confirmation for cart %s: its address changed since; not sent", cart_id)
        return False
    if cart.email_confirmed or not cart.consent:
        logger.info("confirmation for cart %s: not needed any more; not sent", cart_id)
        return False
    if email_is_suppressed(email=email):
        logger.info("confirmation for cart %s: the address unsubscribed; not sent", cart_id)
        return False
    context = {
        "email": cart.email,
        "confirm_url": confirm_url(cart_id=str(cart.pk), email=cart.email),
        "valid_for": timeuntil(timezone.now() + settings.CART_CONFIRMATION_LINK_MAX_AGE),
    }
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    message = EmailMultiAlternatives(
        subject=" ".join(render_to_string(f"{TEMPLATE}.subject.txt", context).split()),
        body=render_to_string(f"{TEMPLATE}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[cart.email],
        headers={"Message-ID": make_msgid(domain=domain)},
    )
    message.attach_alternative(render_to_string(f"{TEMPLATE}.html", context), "text/html")
    message.send()
    logger.info("confirmation email for cart %s sent", cart.pk)
    return True
