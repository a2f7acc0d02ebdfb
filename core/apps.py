from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Before the first request builds the middleware chain: tracing adds the request's.
        from django.conf import settings

        from core.tracing import configure_tracing

        configure_tracing(settings.TRACING)
