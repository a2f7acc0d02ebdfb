"""Signed, expiring tokens for the links in reminder emails (cart recovery, unsubscribe)."""

from __future__ import annotations

from django.conf import settings
from django.core import signing

# One salt per purpose: a recovery token can never be used as an unsubscribe token.
_RECOVER_SALT = "notifications.recover-cart"
_UNSUBSCRIBE_SALT = "notifications.unsubscribe"


class InvalidToken(Exception):
    """A token that was tampered with, has expired, or is not one of ours."""


def _read(token: str, *, salt: str, field: str) -> object:
    try:
        data = signing.TimestampSigner(salt=salt).unsign_object(
            token, max_age=settings.REMINDER_LINK_MAX_AGE
        )
    except signing.SignatureExpired as error:
        raise InvalidToken("This link has expired.") from error
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise InvalidToken("This link is not valid.") from error
    if not isinstance(data, dict) or field not in data:
        raise InvalidToken("This link is not valid.")
    return data[field]


def recover_token_make(*, reminder_id: int) -> str:
    return signing.TimestampSigner(salt=_RECOVER_SALT).sign_object({"r": reminder_id})


def recover_token_read(token: str) -> int:
    """The reminder id in ``token``; raises InvalidToken."""
    reminder_id = _read(token, salt=_RECOVER_SALT, field="r")
    if not isinstance(reminder_id, int):
        raise InvalidToken("This link is not valid.")
    return reminder_id


def unsubscribe_token_make(*, email: str) -> str:
    return signing.TimestampSigner(salt=_UNSUBSCRIBE_SALT).sign_object({"e": email})


def unsubscribe_token_read(token: str) -> str:
    """The address in ``token``; raises InvalidToken."""
    email = _read(token, salt=_UNSUBSCRIBE_SALT, field="e")
    if not isinstance(email, str) or not email:
        raise InvalidToken("This link is not valid.")
    return email
