"""Admin of the bus: the outbox, dead letters (with replay), schedules and processed events.

Everything here is read-only but for the operator's two levers, each behind a permission
of its own (``eventbus.retry_outboxevent``, ``eventbus.replay_deadletter``): retry an
outbox row now, and replay a dead letter.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from eventbus.models import DeadLetter, OutboxEvent, ProcessedEvent, ScheduledEvent
from eventbus.relay import relay_outbox
from eventbus.replay import replay_dead_letter


def _pretty_json(value: Any) -> str:
    return format_html('<pre class="wrapped">{}</pre>', json.dumps(value, indent=2, sort_keys=True))


def _shorten(text: str, length: int = 80) -> str:
    first_line = (text or "").strip().splitlines()[0] if text and text.strip() else ""
    return first_line if len(first_line) <= length else first_line[: length - 1] + "…"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the bus itself: operators look, they do not edit."""

    class Media:
        # A stylesheet, not style attributes: the Content-Security-Policy allows no inline styles.
        css = {"all": ["eventbus/admin.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OutboxStateFilter(admin.SimpleListFilter):
    """Pending rows split by whether a publish has failed already ("failing")."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("waiting", "Pending, not tried yet"),
            ("failing", "Pending, publish failing"),
            ("published", "Published"),
            ("failed", "Failed (dead letter)"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        pending = OutboxEvent.Status.PENDING
        return {
            "waiting": queryset.filter(status=pending, attempts=0),
            "failing": queryset.filter(status=pending, attempts__gt=0),
            "published": queryset.filter(status=OutboxEvent.Status.PUBLISHED),
            "failed": queryset.filter(status=OutboxEvent.Status.FAILED),
        }.get(self.value() or "", queryset)


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "detail_type",
        "source",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "published_at",
        "error",
    ]
    list_filter = [OutboxStateFilter, "status", "detail_type", "source"]
    search_fields = ["id", "correlation_id"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "id",
        "source",
        "detail_type",
        "correlation_id",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "published_at",
        "pretty_envelope",
    ]
    exclude = ["envelope"]
    actions = ["retry_now"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="last error")
    def error(self, row: OutboxEvent) -> str:
        return _shorten(row.last_error)

    @admin.display(description="envelope")
    def pretty_envelope(self, row: OutboxEvent) -> str:
        return _pretty_json(row.envelope)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.retry_{opts.model_name}")

    @admin.action(description="Retry now (pending or failed events)", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        retryable = queryset.filter(
            status__in=[OutboxEvent.Status.PENDING, OutboxEvent.Status.FAILED]
        )
        ids = [str(pk) for pk in retryable.values_list("pk", flat=True)]
        skipped = queryset.count() - len(ids)
        now = timezone.now()
        OutboxEvent.objects.filter(pk__in=ids).update(
            status=OutboxEvent.Status.PENDING, next_attempt_at=now
        )
        # A failed row's dead letter is being dealt with by this retry.
        DeadLetter.objects.filter(
            subscription=DeadLetter.PUBLISH, event_id__in=ids, replayed_at__isnull=True
        ).update(replayed_at=now)
        report = relay_outbox(ids=ids, limit=max(len(ids), 1)) if ids else None
        if report is not None:
            self.message_user(
                request,
                f"Retried {len(ids)} event(s): {report.published} published, "
                f"{report.retrying} still failing, {report.dead} refused by the bus.",
                messages.SUCCESS if report.retrying + report.dead == 0 else messages.WARNING,
            )
        if skipped:
            self.message_user(
                request, f"Skipped {skipped} event(s) already published.", messages.INFO
            )


class ReplayedFilter(admin.SimpleListFilter):
    title = "replayed"
    parameter_name = "replayed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Not replayed"), ("yes", "Replayed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "no":
            return queryset.filter(replayed_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(replayed_at__isnull=False)
        return queryset


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "subscription",
        "detail_type",
        "short_error",
        "attempts",
        "created_at",
        "replayed",
    ]
    list_filter = [ReplayedFilter, "subscription", "detail_type", "created_at"]
    search_fields = ["event_id", "subscription", "error"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "subscription",
        "event_id",
        "detail_type",
        "error",
        "attempts",
        "created_at",
        "replayed_at",
        "traceback_text",
        "pretty_envelope",
        "raw_message",
    ]
    exclude = ["envelope", "traceback"]
    actions = ["replay"]

    @admin.display(description="error")
    def short_error(self, letter: DeadLetter) -> str:
        # Short enough for the list to fit 1280 px; the first line in full on hover.
        return format_html(
            '<span title="{}">{}</span>', _shorten(letter.error, 200), _shorten(letter.error, 40)
        )

    @admin.display(description="replayed", boolean=True, ordering="replayed_at")
    def replayed(self, letter: DeadLetter) -> bool:
        return letter.replayed_at is not None

    @admin.display(description="traceback")
    def traceback_text(self, letter: DeadLetter) -> str:
        return format_html('<pre class="wrapped">{}</pre>', letter.traceback or "-")

    @admin.display(description="envelope")
    def pretty_envelope(self, letter: DeadLetter) -> str:
        return _pretty_json(letter.envelope) if letter.envelope is not None else "-"

    def has_replay_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.replay_{opts.model_name}")

    @admin.action(description="Replay the selected dead letters", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet) -> None:
        replayed, failures = 0, []
        for letter in queryset.order_by("created_at"):
            try:
                replay_dead_letter(letter)
            except Exception as error:  # report each failure, go on with the rest
                failures.append(f"#{letter.pk}: {type(error).__name__}: {error}")
            else:
                replayed += 1
        if replayed:
            self.message_user(request, f"Replayed {replayed} dead letter(s).", messages.SUCCESS)
        for failure in failures:
            self.message_user(request, f"Could not replay {failure}", messages.ERROR)


class DueFilter(admin.SimpleListFilter):
    title = "due"
    parameter_name = "due"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("due", "Due (waiting to be published)"), ("future", "In the future")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        if self.value() == "due":
            return queryset.filter(due_at__lte=now)
        if self.value() == "future":
            return queryset.filter(due_at__gt=now)
        return queryset


@admin.register(ScheduledEvent)
class ScheduledEventAdmin(ReadOnlyAdmin):
    """Local schedules only; on EventBridge the schedules live in EventBridge Scheduler."""

    list_display = ["key", "detail_type", "due_at", "is_due", "updated_at"]
    list_filter = [DueFilter]
    search_fields = ["key"]
    date_hierarchy = "due_at"
    readonly_fields = ["key", "due_at", "created_at", "updated_at", "pretty_envelope"]
    exclude = ["envelope"]

    @admin.display(description="detail-type")
    def detail_type(self, row: ScheduledEvent) -> str:
        return str((row.envelope or {}).get("detail-type", ""))

    @admin.display(description="due", boolean=True)
    def is_due(self, row: ScheduledEvent) -> bool:
        return row.due_at <= timezone.now()

    @admin.display(description="envelope")
    def pretty_envelope(self, row: ScheduledEvent) -> str:
        return _pretty_json(row.envelope)


@admin.register(ProcessedEvent)
class ProcessedEventAdmin(ReadOnlyAdmin):
    list_display = ["subscription", "event_id", "processed_at"]
    list_filter = ["subscription"]
    search_fields = ["=event_id", "subscription"]
    date_hierarchy = "processed_at"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
