from django.contrib import admin

from cart.models import Cart, CartLine, Order, OrderLine


class CartLineInline(admin.TabularInline):
    model = CartLine
    extra = 0
    fields = ["sku", "quantity", "unit_price", "currency", "updated_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "user",
        "email",
        "consent",
        "status",
        "accepted_sequence",
        "applied_sequence",
        "last_activity_at",
    ]
    list_filter = ["status", "consent"]
    search_fields = ["id", "email", "user__email", "user__username"]
    readonly_fields = [
        "accepted_sequence",
        "applied_sequence",
        "last_event_id",
        "last_activity_at",
        "created_at",
        "updated_at",
    ]
    inlines = [CartLineInline]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    readonly_fields = ["sku", "name", "quantity", "unit_price"]
    fields = readonly_fields
    can_delete = False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "email", "total", "currency", "placed_at"]
    search_fields = ["id", "email"]
    date_hierarchy = "placed_at"
    readonly_fields = ["id", "cart", "user", "email", "total", "currency", "placed_at"]
    inlines = [OrderLineInline]
