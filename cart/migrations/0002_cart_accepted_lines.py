from django.db import migrations, models


def accepted_lines_from_the_projection(apps, schema_editor):
    """Existing carts start from their projected lines: right for every cart whose events
    have all been applied (run the migration with the consumers drained)."""
    Cart = apps.get_model("cart", "Cart")
    CartLine = apps.get_model("cart", "CartLine")
    lines: dict = {}
    for cart_id, sku, quantity in CartLine.objects.values_list("cart_id", "sku", "quantity"):
        lines.setdefault(cart_id, {})[sku] = quantity
    for cart in Cart.objects.filter(pk__in=list(lines)).iterator():
        cart.accepted_lines = lines[cart.pk]
        cart.save(update_fields=["accepted_lines"])


class Migration(migrations.Migration):
    dependencies = [
        ("cart", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="cart",
            name="accepted_lines",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(accepted_lines_from_the_projection, migrations.RunPython.noop),
    ]
