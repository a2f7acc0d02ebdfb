"""Bus backends, chosen by the ``EVENT_BUS`` setting (dotted path + options) like CACHES."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from eventbus.backends.base import EventBusBackend


@cache
def get_backend() -> EventBusBackend:
    """The configured backend, built on first use and kept for the process."""
    config = settings.EVENT_BUS
    backend_class = import_string(config["BACKEND"])
    return backend_class(**config.get("OPTIONS", {}))


@receiver(setting_changed)
def _forget_backend(*, setting: str, **kwargs: object) -> None:
    if setting == "EVENT_BUS":
        get_backend.cache_clear()
