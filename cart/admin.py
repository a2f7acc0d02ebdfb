from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from cart.discounts import discount_code_refusal
from cart.models import Cart, CartLine, DiscountCode, Order, OrderLine
from core.display import short_id


class CartLineInline(admin.TabularInline):
    model = CartLine
    extra = 0
    fields = ["sku", "quantity", "unit_price", "currency", "updated_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = [
        "short_cart_id",
        "user",
        "email",
        "consent",
        "status",
        "events",
        "last_activity_at",
    ]
    list_filter = ["status", "consent"]
    search_fields = ["id", "email", "user__email", "user__username"]
    readonly_fields = [
        "id",
        "accepted_sequence",
        "applied_sequence",
        "last_event_id",
        "last_activity_at",
        "created_at",
        "updated_at",
    ]
    inlines = [CartLineInline]

    @admin.display(description="cart", ordering="id")
    def short_cart_id(self, cart: Cart) -> str:
        return short_id(cart.pk)

    @admin.display(description="events applied / accepted", ordering="accepted_sequence")
    def events(self, cart: Cart) -> str:
        return f"{cart.applied_sequence} / {cart.accepted_sequence}"


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    readonly_fields = ["sku", "name", "quantity", "unit_price"]
    fields = readonly_fields
    can_delete = False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["short_order_id", "email", "total", "currency", "discount_code", "placed_at"]
    search_fields = ["id", "email", "discount_code"]
    date_hierarchy = "placed_at"
    readonly_fields = [
        "id",
        "cart",
        "user",
        "email",
        "total",
        "currency",
        "discount_code",
        "discount_amount",
        "placed_at",
    ]
    inlines = [OrderLineInline]

    @admin.display(description="order", ordering="id")
    def short_order_id(self, order: Order) -> str:
        return short_id(order.pk)


class DiscountStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("unused", "Not used, valid"),
            ("used", "Used"),
            ("expired", "Expired unused"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        return {
            "unused": queryset.filter(used_at__isnull=True, expires_at__gt=now),
            "used": queryset.filter(used_at__isnull=False),
            "expired": queryset.filter(used_at__isnull=True, expires_at__lte=now),
        }.get(self.value() or "", queryset)


@admin.register(DiscountCode)
class DiscountCodeAdmin(admin.ModelAdmin):
    """The codes issued (by reminder emails), and what became of each."""

    list_display = ["code", "percent", "email", "expires_at", "state", "short_order_id"]
    list_filter = [DiscountStateFilter]
    search_fields = ["code", "email", "reference", "used_by_order_id"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "code",
        "percent",
        "reference",
        "email",
        "created_at",
        "expires_at",
        "applied_to",
        "applied_at",
        "used_at",
        "used_by_order_id",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # codes are issued by the reminders, one per email

    @admin.display(description="state")
    def state(self, code: DiscountCode) -> str:
        if code.used_at is not None:
            return f"used {timezone.localtime(code.used_at):%d %b %Y %H:%M}"
        if discount_code_refusal(code):
            return "expired"
        return "applied to a cart" if code.applied_to_id else "not used yet"

    @admin.display(description="order", ordering="used_by_order_id")
    def short_order_id(self, code: DiscountCode) -> str:
        return short_id(code.used_by_order_id) if code.used_by_order_id else "-"
