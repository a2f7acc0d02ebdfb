"""Admin of reminders (pending first), the sent-email log and unsubscribed addresses."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Case, DecimalField, F, IntegerField, QuerySet, Sum, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.clickjacking import xframe_options_sameorigin

from cart.selectors import cart_lines
from core.display import short_id
from notifications.models import EmailSuppression, Reminder, SentEmail
from notifications.preview import email_preview_policy, reminder_email_preview
from notifications.selectors import reminder_counts, reminder_delays
from notifications.services import reminder_cancel, reminder_reschedule, reminder_send_now
from notifications.timeline import cart_timeline


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Pending and past due")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(status=Reminder.Status.PENDING, due_at__lt=timezone.now())
        return queryset


class DueTodayFilter(admin.SimpleListFilter):
    title = "due"
    parameter_name = "due"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("today", "Today")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "today":
            start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
            return queryset.filter(due_at__gte=start, due_at__lt=start + timedelta(days=1))
        return queryset


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = ["email", "cart_total", "state", "step", "short_schedule_key"]
    list_filter = ["status", OverdueFilter, DueTodayFilter, "step"]
    search_fields = ["email"]
    date_hierarchy = "due_at"
    actions = ["cancel_reminders", "send_now", "reschedule"]
    readonly_fields = [
        "outcome",
        "cart",
        "email",
        "step",
        "status",
        "reason",
        "due_at",
        "activity_sequence",
        "activity_at",
        "schedule_key",
        "send_attempts",
        "created_at",
        "updated_at",
        "sent_at",
        "clicked_at",
        "restored_to_cart_id",
        "recovered_at",
        "recovered_order_id",
        "first_scheduled_at",
        "discount_code",
        "cart_lines",
        "email_preview",
        "timeline",
    ]

    class Media:
        # The preview's frame and text part: classes, not style attributes (the CSP).
        css = {"all": ["notifications/admin.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # reminders come from the policy, not by hand

    def get_urls(self) -> list:
        preview = self.admin_site.admin_view(self.email_preview_html)
        return [
            path("<int:object_id>/email.html", preview, name="notifications_reminder_email"),
            *super().get_urls(),
        ]

    @xframe_options_sameorigin  # shown in a frame on the reminder's own page
    def email_preview_html(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The HTML part of the reminder's email as it would go out now (inert links)."""
        reminder = get_object_or_404(Reminder.objects.select_related("cart"), pk=object_id)
        if not self.has_view_permission(request, reminder):
            raise Http404
        message = reminder_email_preview(reminder=reminder)
        html = next(body for body, kind in message.alternatives if kind == "text/html")
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
        # Its own policy (inline style, no script; see notifications.preview), which the
        # site's CSP middleware leaves as it is.
        response["Content-Security-Policy"] = email_preview_policy()
        return response

    @admin.display(description="email preview")
    def email_preview(self, reminder: Reminder) -> str:
        message = reminder_email_preview(reminder=reminder)
        url = reverse("admin:notifications_reminder_email", args=[reminder.pk])
        return format_html(
            '<p>Subject: <strong data-testid="preview-subject">{}</strong></p>'
            '<p><a href="{}" target="_blank" rel="noopener">Open the HTML part</a> '
            "(as the email would go out now; its links lead nowhere)</p>"
            '<iframe src="{}" title="The HTML part" sandbox="allow-same-origin" '
            'class="email-preview-frame"></iframe>'
            '<h3>Text part</h3><pre data-testid="preview-text" class="email-preview-text">'
            "{}</pre>",
            message.subject,
            url,
            url,
            message.body,
        )

    @admin.display(description="why")
    def outcome(self, reminder: Reminder) -> str:
        text = {
            Reminder.Status.PENDING: f"Pending: due {timezone.localtime(reminder.due_at):%c}.",
            Reminder.Status.SENDING: "Claimed by the mailer; the email may or may not have "
            "gone out (a worker died). Reschedule it to send again.",
            Reminder.Status.SENT: "Sent.",
            Reminder.Status.CANCELLED: "Cancelled before it fell due",
            Reminder.Status.SKIPPED: "Skipped when it fell due",
            Reminder.Status.FAILED: "Sending failed",
        }[reminder.status]
        if reminder.reason and reminder.status not in (
            Reminder.Status.PENDING,
            Reminder.Status.SENT,
        ):
            text = f"{text}: {reminder.reason}"
        if reminder.recovered_at:
            text += f" Recovered: order {reminder.recovered_order_id}."
        return format_html('<strong data-testid="reminder-outcome">{}</strong>', text)

    @admin.display(description="cart timeline")
    def timeline(self, reminder: Reminder) -> str:
        story = cart_timeline(cart_id=reminder.cart_id, cart_created_at=reminder.cart.created_at)
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            (
                (
                    timezone.localtime(entry.time).strftime("%Y-%m-%d %H:%M:%S"),
                    entry.detail_type,
                    "" if entry.sequence is None else entry.sequence,
                    entry.correlation_id or "-",
                    entry.summary,
                )
                for entry in story.entries
            ),
        )
        retention = settings.EVENT_BUS["RETENTION"]
        note = (
            "The outbox keeps events for EVENT_RETENTION ({} days); this cart is older, so "
            "its events before {} have been pruned and are not shown."
            if not story.complete
            else "Every event of this cart (the outbox keeps them for EVENT_RETENTION, {} "
            "days; a timeline of an older cart starts at {})."
        )
        return format_html(
            '<table data-testid="timeline"><thead><tr><th>Time</th><th>Event</th>'
            "<th>Sequence</th><th>Correlation id</th><th>Detail</th></tr></thead>"
            '<tbody>{}</tbody></table><p class="help">{}</p>',
            rows or format_html('<tr><td colspan="5">{}</td></tr>', "No events left."),
            format_html(
                note,
                f"{retention.total_seconds() / 86400:g}",
                timezone.localtime(story.complete_since).strftime("%Y-%m-%d %H:%M"),
            ),
        )

    @admin.display(description="status", ordering="due_at")
    def state(self, reminder: Reminder) -> str:
        """Status with its moment (due, or sent) and the reason, shortened (all on hover)."""
        moment = reminder.sent_at or reminder.due_at
        when = f"{'sent' if reminder.sent_at else 'due'} {timezone.localtime(moment):%d %b %H:%M}"
        if reminder.recovered_at:
            when += ", recovered"
        reason = reminder.reason
        if len(reason) > 28:
            reason = format_html('<span title="{}">{}…</span>', reason, reason[:27])
        return format_html(
            "<strong>{}</strong> · {}{}",
            reminder.get_status_display(),
            when,
            format_html("<br>{}", reason) if reason else "",
        )

    @admin.display(description="schedule (cart)", ordering="schedule_key")
    def short_schedule_key(self, reminder: Reminder) -> str:
        # "cart-reminder-" and the start of the cart id; all of it on hover.
        return short_id(reminder.schedule_key, length=22)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Annotate before ordering: the default get_queryset() orders by get_ordering(),
        # which names the annotation.
        line_total = F("cart__lines__quantity") * F("cart__lines__unit_price")
        return (
            Reminder.objects.select_related("cart")
            .annotate(
                pending_first=Case(
                    When(status=Reminder.Status.PENDING, then=Value(0)),
                    default=Value(1),
                    output_field=IntegerField(),
                ),
                total=Sum(line_total, output_field=DecimalField(max_digits=12, decimal_places=2)),
            )
            .order_by(*self.get_ordering(request))
        )

    def get_ordering(self, request: HttpRequest) -> list[str]:
        return ["pending_first", "due_at"]

    @admin.display(description="cart total", ordering="total")
    def cart_total(self, reminder: Reminder) -> str:
        total = getattr(reminder, "total", None) or Decimal("0.00")
        return f"{total:.2f} {reminder.cart.currency}"

    @admin.display(description="cart lines")
    def cart_lines(self, reminder: Reminder) -> str:
        lines = list(cart_lines(cart=reminder.cart))
        if not lines:
            return "(empty)"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (line.sku, line.product.name, line.quantity, f"{line.unit_price} {line.currency}")
                for line in lines
            ),
        )
        return format_html(
            "<table><thead><tr><th>SKU</th><th>Product</th><th>Qty</th><th>Unit price</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "reminder_counts": reminder_counts()}
        return super().changelist_view(request, extra_context=extra_context)

    def _report(self, request: HttpRequest, done: int, total: int, verb: str) -> None:
        level = messages.SUCCESS if done == total else messages.WARNING
        skipped = (
            f" ({total - done} skipped: not in a state that allows it)" if done < total else ""
        )
        self.message_user(request, f"{verb} {done} of {total} reminders{skipped}.", level)

    @admin.action(description="Cancel selected pending reminders", permissions=["change"])
    def cancel_reminders(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        done = sum(
            reminder_cancel(reminder_id=pk, reason=f"cancelled by {request.user}") for pk in ids
        )
        self._report(request, done, len(ids), "Cancelled")

    @admin.action(description="Send selected pending reminders now", permissions=["change"])
    def send_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        done = sum(reminder_send_now(reminder_id=pk) for pk in ids)
        self._report(request, done, len(ids), "Queued for sending")

    @admin.action(
        description="Reschedule selected reminders (first delay from now)", permissions=["change"]
    )
    def reschedule(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        due_at = timezone.now() + reminder_delays()[0]
        done = sum(reminder_reschedule(reminder_id=pk, due_at=due_at) for pk in ids)
        self._report(request, done, len(ids), "Rescheduled")


@admin.register(SentEmail)
class SentEmailAdmin(admin.ModelAdmin):
    list_display = ["sent_at", "to", "subject", "short_message_id", "reminder"]
    search_fields = ["to", "message_id"]
    date_hierarchy = "sent_at"
    readonly_fields = ["reminder", "to", "subject", "message_id", "sent_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="message id", ordering="message_id")
    def short_message_id(self, email: SentEmail) -> str:
        return short_id(email.message_id, length=16)


@admin.register(EmailSuppression)
class EmailSuppressionAdmin(admin.ModelAdmin):
    list_display = ["email", "source", "created_at"]
    search_fields = ["email"]
