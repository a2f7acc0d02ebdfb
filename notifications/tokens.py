"""Signed tokens for the links in our emails: cart recovery, unsubscribe, address confirmation.

A signature proves the shop made the link and dates it; what a link names must not be
guessable on its own, so a recovery link names its reminder by a random uuid (not its
sequential id) and a confirmation link its cart by the cart's uuid.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.core import signing

# One salt per purpose: a recovery token can never be used as an unsubscribe token.
_RECOVER_SALT = "notifications.recover-cart"
_UNSUBSCRIBE_SALT = "notifications.unsubscribe"
_CONFIRM_SALT = "notifications.confirm-contact"


class InvalidToken(Exception):
    """A token that was tampered with, has expired, or is not one of ours."""


def _read(token: str, *, salt: str, max_age: timedelta | None) -> dict:
    try:
        data = signing.TimestampSigner(salt=salt).unsign_object(token, max_age=max_age)
    except signing.SignatureExpired as error:
        raise InvalidToken("This link has expired.") from error
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise InvalidToken("This link is not valid.") from error
    if not isinstance(data, dict):
        raise InvalidToken("This link is not valid.")
    return data


def recover_token_make(*, link_token: uuid.UUID) -> str:
    return signing.TimestampSigner(salt=_RECOVER_SALT).sign_object({"r": str(link_token)})


def recover_token_read(token: str) -> uuid.UUID:
    """The reminder's link token in ``token``; raises InvalidToken (links older than
    ``REMINDER_LINK_MAX_AGE``, and the id-based links from before link tokens, included)."""
    data = _read(token, salt=_RECOVER_SALT, max_age=settings.REMINDER_LINK_MAX_AGE)
    try:
        return uuid.UUID(data["r"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise InvalidToken("This link is not valid.") from error


def unsubscribe_token_make(*, email: str) -> str:
    return signing.TimestampSigner(salt=_UNSUBSCRIBE_SALT).sign_object({"e": email})


def unsubscribe_token_read(token: str) -> str:
    """The address in ``token``; raises InvalidToken. Unsubscribe links never expire
    (RFC 8058 senders keep them working; CAN-SPAM asks for 30 days at least): the
    signature still ties each one to its one address."""
    email = _read(token, salt=_UNSUBSCRIBE_SALT, max_age=None).get("e")
    if not isinstance(email, str) or not email:
        raise InvalidToken("This link is not valid.")
    return email


def confirm_token_make(*, cart_id: str, email: str) -> str:
    return signing.TimestampSigner(salt=_CONFIRM_SALT).sign_object({"c": cart_id, "e": email})


def confirm_token_read(token: str) -> tuple[str, str]:
    """(cart id, address) in ``token``; raises InvalidToken, also once it is older than
    ``CART_CONFIRMATION_LINK_MAX_AGE``."""
    data = _read(token, salt=_CONFIRM_SALT, max_age=settings.CART_CONFIRMATION_LINK_MAX_AGE)
    cart_id, email = data.get("c"), data.get("e")
    if not isinstance(cart_id, str) or not isinstance(email, str) or not email:
        raise InvalidToken("This link is not valid.")
    try:
        uuid.UUID(cart_id)
    except ValueError as error:
        raise InvalidToken("This link is not valid.") from error
    return cart_id, email
