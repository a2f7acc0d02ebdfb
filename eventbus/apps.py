import os
from importlib import import_module

from django.apps import AppConfig


class EventBusConfig(AppConfig):
    name = "eventbus"
    verbose_name = "Event bus"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: models may only load once the apps registry is ready.
        from core.health import register_check
        from core.metrics import register_collector
        from eventbus.backend import get_backend
        from eventbus.status import collect_bus_metrics

        register_check(
            "bus",
            lambda: get_backend().check(),
            details=lambda: {"backend": get_backend().label},
        )
        register_collector("eventbus", collect_bus_metrics)
        from eventbus import checks  # noqa: F401  (registers the event catalog's checks)

        # Extension hook: EVENTBUS_EXTRA_HANDLER_MODULES="pkg.mod,other.mod" imports extra
        # handler modules in every process (web, relay, Celery worker) without an app of
        # their own. The integration tests use it to give a real worker test-only handlers.
        for module in os.environ.get("EVENTBUS_EXTRA_HANDLER_MODULES", "").split(","):
            if module.strip():
                import_module(module.strip())
