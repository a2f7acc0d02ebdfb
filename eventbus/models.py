"""What the bus keeps in the database: the outbox, processed events, dead letters, schedules."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class OutboxEvent(models.Model):
    """An accepted event, written in the transaction that accepted it; the relay publishes it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PUBLISHED = "published", "Published"
        FAILED = "failed", "Failed (dead letter)"

    id = models.UUIDField(primary_key=True, help_text="The envelope id.")
    source = models.CharField(max_length=256)
    detail_type = models.CharField(max_length=128, db_index=True)
    envelope = models.JSONField()
    correlation_id = models.CharField(max_length=128, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "outbox event"
        # The admin's "retry now" (rows are otherwise read-only, so not "change").
        permissions = [("retry_outboxevent", "Can retry outbox events now")]
        indexes = [
            # The relay only ever looks at pending rows: keep that index small.
            models.Index(
                fields=["next_attempt_at"],
                name="outbox_pending_due",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.detail_type} {self.id} ({self.status})"


class ProcessedEvent(models.Model):
    """Proof that a subscription handled an event: a redelivery finds it and does nothing."""

    subscription = models.CharField(max_length=64)
    event_id = models.CharField(max_length=64)
    processed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event_id"], name="processed_event_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscription}: {self.event_id}"


class DeadLetter(models.Model):
    """An event that could not be published or handled after its retries; replayable."""

    PUBLISH = "(publish)"

    subscription = models.CharField(
        max_length=64, db_index=True, help_text=f"{PUBLISH} when the bus refused the event."
    )
    event_id = models.CharField(max_length=64, db_index=True)
    detail_type = models.CharField(max_length=128, blank=True)
    envelope = models.JSONField(null=True, blank=True)
    raw_message = models.TextField(blank=True, help_text="The body, when it was not JSON.")
    error = models.TextField()
    traceback = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    replayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        # The admin's replay action (dead letters are otherwise read-only).
        permissions = [("replay_deadletter", "Can replay dead letters")]

    def __str__(self) -> str:
        return f"{self.subscription}: {self.detail_type or '?'} {self.event_id}"


class ScheduledEvent(models.Model):
    """A local schedule (the embedded twin of an EventBridge Scheduler schedule)."""

    key = models.CharField(max_length=64, unique=True)
    due_at = models.DateTimeField(db_index=True)
    envelope = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at"]

    def __str__(self) -> str:
        return f"{self.key} at {self.due_at:%Y-%m-%d %H:%M:%S}"
