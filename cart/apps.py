from django.apps import AppConfig


class CartConfig(AppConfig):
    name = "cart"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the cart's subscriptions and its login receiver.
        from cart import handlers, receivers  # noqa: F401
