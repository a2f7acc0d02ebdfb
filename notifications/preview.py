"""The admin's preview of a reminder's email: the message as it would go out now (links
that lead nowhere), and the Content-Security-Policy its HTML part is shown under.

The HTML part is the email as mail clients get it: styled by ``style`` attributes
(css-inline puts them there, because mail clients drop ``<style>``) and showing images
from ``SITE_URL``. The site's policy forbids inline style, so the part is served at a URL
of its own (``…/reminder/<id>/email.html``) with a policy of its own, which the reminder's
page frames: inline style and images from the shop's origins, nothing else (no script,
font, form, frame or request), framed by the admin's own pages only, and sandboxed even
when opened on its own. ``srcdoc`` would not do: a ``srcdoc`` frame inherits the framing
page's policy, so the email would show unstyled, or the admin page would need
``'unsafe-inline'`` for every page.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from csp.utils import build_policy
from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from cart.selectors import cart_summary
from notifications.emails import reminder_email_build
from notifications.models import Reminder
from notifications.offer import reminder_offer


def reminder_email_preview(*, reminder: Reminder) -> EmailMultiAlternatives:
    """The email ``reminder`` would send now (its cart's lines in stock), built as a
    preview: looking at it restores no cart and unsubscribes no one."""
    summary = reminder_offer(summary=cart_summary(cart=reminder.cart))
    return reminder_email_build(reminder=reminder, summary=summary, preview=True)


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def email_preview_policy() -> str:
    """The preview's policy. Its images come from ``SITE_URL`` (the email's links and
    images are absolute from it), or from ``MEDIA_URL`` or ``SHOP_LOGO_URL`` when those
    name another host (a CDN): the same origins the email itself shows images from."""
    image_origins = {
        origin
        for origin in map(_origin, (settings.SITE_URL, settings.MEDIA_URL, settings.SHOP_LOGO_URL))
        if origin is not None
    }
    return build_policy(
        config={
            "default-src": ["'none'"],
            "script-src": ["'none'"],
            "style-src": ["'unsafe-inline'"],
            "img-src": ["'self'", *sorted(image_origins)],
            "base-uri": ["'none'"],
            "form-action": ["'none'"],
            "frame-ancestors": ["'self'"],
            "sandbox": ["allow-same-origin"],
        }
    )
