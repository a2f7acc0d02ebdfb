from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from shop.images import product_image_renditions_create
from shop.models import Category, Product


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position"]
    list_editable = ["position"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "category", "price", "currency", "stock", "active"]
    list_editable = ["price", "stock", "active"]
    list_filter = ["active", "category"]
    list_select_related = ["category"]
    search_fields = ["sku", "name", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["image_sizes"]
    list_per_page = 50
    actions = ["make_image_renditions"]

    def save_model(self, request: HttpRequest, obj: Product, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # An uploaded (or cleared) image gets its smaller sizes for the pages' srcset now.
        if "image" in form.changed_data:
            product_image_renditions_create(product=obj)

    @admin.display(description="image sizes")
    def image_sizes(self, product: Product) -> str:
        widths = [str(rendition["width"]) for rendition in product.image_renditions]
        return ", ".join(widths) + " px" if widths else "-"

    @admin.action(description="Make the image sizes again", permissions=["change"])
    def make_image_renditions(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        for product in queryset:
            product_image_renditions_create(product=product)
        messages.success(request, f"Made the image sizes of {len(queryset)} products.")
