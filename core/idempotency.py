"""Idempotent retries: a write sent again with the same ``Idempotency-Key`` gets the first
answer instead of being done twice (after the IETF httpapi draft "The Idempotency-Key
HTTP Header Field").

Apply :func:`idempotent` to an ``APIView`` method. Without the header nothing changes.
With it, the key is scoped to the caller (the user, else the guest's session: never
shared between callers) and:

- the first request claims the key (a committed row, so a concurrent duplicate sees it),
  runs, and stores its 2xx answer in the same transaction as everything it did: either
  both are committed or neither is, so no crash can leave an event without its answer;
- a retry with the same method, path and body gets that answer again (same status, body
  and ``Location``, plus ``Idempotent-Replayed: true``), and nothing runs;
- the same key with another method, path or body is a 422 problem;
- a duplicate while the first still runs is a 409 problem with ``Retry-After``;
- a refused request (4xx) stores nothing: it changed nothing, so a retry runs again.

Answers are kept for ``IDEMPOTENCY_KEY_TTL``; :func:`idempotency_records_prune` deletes
older ones. The rows live in the database, not the cache, because the answer must commit
atomically with the request's own writes (the cache cannot join that transaction) and be
seen by every process.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from core.api import ProblemException
from core.models import IdempotencyRecord

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# A Structured Field String as the draft says ("..."), or the same characters bare as many
# clients send them: visible ASCII but the quote and the backslash, at most 255.
KEY_PATTERN = r'^(?:"[!#-\[\]-~]{1,255}"|[!#-\[\]-~]{1,255})$'
_KEY = re.compile(KEY_PATTERN.replace("$", r"\Z"))
# A claim older than this belongs to a request that died (gunicorn kills a worker after
# 30 s): a retry may take the key over. A request that outlives it cannot commit anyway,
# because storing its answer needs its claim (see _store).
IN_PROGRESS_TIMEOUT = timedelta(seconds=60)

Handler = Callable[..., Response]


class IdempotencyKeyReused(ProblemException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        f"This {KEY_HEADER} was used for a request with another method, path or body; "
        "use a new key for a new request."
    )
    default_code = "idempotency_key_reused"
    problem_type = "idempotency-key-reused"


class IdempotencyKeyInUse(ProblemException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = f"The first request with this {KEY_HEADER} has not finished; retry."
    default_code = "idempotency_key_in_use"
    problem_type = "idempotency-key-in-use"
    wait = 1  # becomes Retry-After


def idempotent(handler: Handler) -> Handler:
    """Honour ``Idempotency-Key`` on this view method (it runs after authentication, the
    CSRF check and throttling, so a replay passes them too)."""

    @functools.wraps(handler)
    def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = _key_from(request)
        if key is None:
            return handler(view, request, *args, **kwargs)
        scope = _caller_scope(request)
        record, replay = _claim(scope=scope, key=key, fingerprint=_fingerprint(request))
        if replay:
            return Response(
                json.loads(record.body),
                status=record.status_code,
                headers={**record.headers, REPLAYED_HEADER: "true"},
            )
        try:
            with transaction.atomic():
                response = handler(view, request, *args, **kwargs)
                if status.is_success(response.status_code):
                    _store(record, response)
                    return response
        except BaseException:
            # Keep the request's own error: if the database is what failed, the claim
            # stays until IN_PROGRESS_TIMEOUT and a retry then takes it over.
            with contextlib.suppress(DatabaseError):
                _release(record)
            raise
        _release(record)
        return response

    wrapper.idempotent = True  # type: ignore[attr-defined]  # read by core.openapi
    return wrapper


def idempotency_records_prune(*, now: datetime | None = None) -> int:
    """Delete the answers whose window has passed; returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def _key_from(request: Request) -> str | None:
    raw = request.headers.get(KEY_HEADER)
    if raw is None:
        return None
    raw = raw.strip()
    if not _KEY.match(raw):
        raise exceptions.ValidationError(
            {KEY_HEADER: [f"{KEY_HEADER} must be 1 to 255 visible ASCII characters, e.g. a UUID."]}
        )
    return raw[1:-1] if raw.startswith('"') else raw


def _caller_scope(request: Request) -> str:
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    session = request.session
    session.keys()  # load it: an unknown or expired session cookie leaves no session key
    if session.session_key:
        return f"session:{session.session_key}"
    # A guest without a session has nothing to tie a retry to the first request: a retry
    # would make a second cart, so say so instead of pretending to honour the key.
    raise exceptions.ValidationError(
        {
            KEY_HEADER: [
                f"{KEY_HEADER} needs a caller to scope it to: authenticate with a token or "
                "send the session cookie an earlier answer set."
            ]
        }
    )


def _fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.get_full_path().encode(), request.body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _claim(*, scope: str, key: str, fingerprint: str) -> tuple[IdempotencyRecord, bool]:
    """Claim the key, or find the answer to replay: ``(record, replay)``. Raises 422 for
    another request under the same key, 409 while its first request runs."""
    for _attempt in range(3):
        now = timezone.now()
        claim = {
            "fingerprint": fingerprint,
            "claim": uuid.uuid4(),
            "locked_until": now + IN_PROGRESS_TIMEOUT,
            "created_at": now,
            "expires_at": now + settings.IDEMPOTENCY_KEY_TTL,
            "status_code": None,
            "body": "",
            "headers": {},
        }
        try:
            # Committed at once (outside a transaction), so a duplicate's insert fails on
            # the unique key instead of running alongside.
            with transaction.atomic():
                return IdempotencyRecord.objects.create(scope=scope, key=key, **claim), False
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
        if record is None:  # released in the meantime
            continue
        if record.expires_at <= now:
            if _take_over(record, claim):
                return record, False
            continue
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if record.status_code is not None:
            return record, True
        if record.locked_until > now:
            raise IdempotencyKeyInUse()
        # Its request died holding the claim; nothing it did was committed.
        if _take_over(record, claim):
            return record, False
    raise IdempotencyKeyInUse()


def _take_over(record: IdempotencyRecord, claim: dict[str, Any]) -> bool:
    """Replace a dead or expired claim, unless another request just did."""
    taken = IdempotencyRecord.objects.filter(pk=record.pk, claim=record.claim).update(**claim)
    if taken:
        for field, value in claim.items():
            setattr(record, field, value)
    return bool(taken)


def _store(record: IdempotencyRecord, response: Response) -> None:
    """Keep the answer, in the request's own transaction; only the holder of the claim
    can, so a request whose claim was taken over rolls back instead of committing twice."""
    stored = IdempotencyRecord.objects.filter(pk=record.pk, claim=record.claim).update(
        status_code=response.status_code,
        body=json.dumps(response.data, cls=JSONEncoder),
        headers={name: value for name, value in response.items() if name != "Content-Type"},
    )
    if not stored:
        raise IdempotencyKeyInUse()


def _release(record: IdempotencyRecord) -> None:
    """Free the key after a refused request, so a retry runs again."""
    IdempotencyRecord.objects.filter(
        pk=record.pk, claim=record.claim, status_code__isnull=True
    ).delete()
