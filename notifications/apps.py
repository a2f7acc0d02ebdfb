from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.metrics import register_collector
        from notifications import (  # noqa: F401  (registers the subscriptions and the check)
            checks,
            handlers,
        )
        from notifications.metrics import collect_reminder_metrics

        register_collector("notifications", collect_reminder_metrics)
