"""Tables of the API plumbing: the answers remembered for idempotent retries."""

from __future__ import annotations

from django.db import models


class IdempotencyRecord(models.Model):
    """One ``Idempotency-Key`` of one caller (:mod:`core.idempotency`).

    Held by the request named by ``claim`` until ``locked_until`` while it runs; then its
    answer (``status_code``, ``body``, ``headers``) is kept until ``expires_at``, written in
    the same transaction as what the request did, so the two are never apart.
    """

    scope = models.CharField(max_length=80, help_text="The caller: user:<id> or session:<key>.")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of method, path and body.")
    claim = models.UUIDField(help_text="The request that holds the key while it runs.")
    locked_until = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, help_text="Null while running.")
    body = models.TextField(blank=True, help_text="The answer's JSON, as first rendered.")
    headers = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="core_idempotency_scope_key")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
