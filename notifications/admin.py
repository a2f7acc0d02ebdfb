"""Admin of reminders (pending first), the sent-email log and unsubscribed addresses."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.db.models import Case, DecimalField, F, IntegerField, QuerySet, Sum, Value, When
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from cart.selectors import cart_lines
from notifications.models import EmailSuppression, Reminder, SentEmail
from notifications.selectors import reminder_counts, reminder_delays
from notifications.services import reminder_cancel, reminder_reschedule, reminder_send_now


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
    list_display = [
        "email",
        "cart_total",
        "due_at",
        "status",
        "reason",
        "step",
        "schedule_key",
        "sent_at",
        "recovered_at",
    ]
    list_filter = ["status", OverdueFilter, DueTodayFilter, "step"]
    search_fields = ["email"]
    date_hierarchy = "due_at"
    actions = ["cancel_reminders", "send_now", "reschedule"]
    readonly_fields = [
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
        "recovered_at",
        "recovered_order_id",
        "cart_lines",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # reminders come from the policy, not by hand

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
    list_display = ["sent_at", "to", "subject", "message_id", "reminder"]
    search_fields = ["to", "message_id"]
    date_hierarchy = "sent_at"
    readonly_fields = ["reminder", "to", "subject", "message_id", "sent_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(EmailSuppression)
class EmailSuppressionAdmin(admin.ModelAdmin):
    list_display = ["email", "source", "created_at"]
    search_fields = ["email"]
