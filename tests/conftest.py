"""Shared fixtures. Unit tests run on the in-memory bus; integration tests opt in to the
real services with the ``integration`` marker and the fixtures in tests/integration/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings

from eventbus.backend import get_backend
from eventbus.backends.memory import InMemoryBackend

MEMORY_BUS = {
    **settings.EVENT_BUS,
    # Deterministic tests: relay in the committing thread (one test covers "background").
    "RELAY_AFTER_COMMIT": "inline",
    "BACKEND": "eventbus.backends.memory.InMemoryBackend",
    "OPTIONS": {},
    "RETRY_BASE_SECONDS": 0.01,
    "RETRY_MAX_SECONDS": 0.05,
}


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path, request):
    """Every test gets the in-memory bus (unless it is an integration test), its own
    media and mail folders, and no throttling surprises."""
    if request.node.get_closest_marker("integration") is None:
        settings.EVENT_BUS = MEMORY_BUS
    else:
        settings.EVENT_BUS = {**settings.EVENT_BUS, "RELAY_AFTER_COMMIT": "inline"}
    # The manifest storage needs collectstatic; tests render templates without it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Real password hashing costs ~0.3 s a login; tests do not need its strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def bus() -> InMemoryBackend:
    backend = get_backend()
    assert isinstance(backend, InMemoryBackend)
    backend.clear()
    return backend


@pytest.fixture
def deliver(bus):
    """Relay the outbox and deliver to subscriptions until nothing is left (in-process)."""
    from eventbus.relay import sweep_outbox

    def run() -> int:
        delivered = 0
        while True:
            sweep_outbox()
            count = bus.deliver_published()
            delivered += count
            if count == 0:
                return delivered

    return run


@pytest.fixture(scope="session")
def _seeded_media(tmp_path_factory) -> Path:
    """The demo catalog's media (images and their sizes), kept from the first seed of the
    session: rendition names carry a digest of the image, so later seeds that find them
    encode nothing (test_seed covers seeding into empty media)."""
    return tmp_path_factory.mktemp("seeded-media")


@pytest.fixture
def catalog(db, settings, _seeded_media):
    from shop.services import catalog_seed_demo

    warm = any(_seeded_media.iterdir())
    if warm:
        shutil.copytree(_seeded_media, settings.MEDIA_ROOT, dirs_exist_ok=True)
    catalog_seed_demo()
    if not warm:
        shutil.copytree(settings.MEDIA_ROOT, _seeded_media, dirs_exist_ok=True)
    from shop.models import Product

    return Product.objects


@pytest.fixture
def product(catalog):
    return catalog.get(sku="COF-001")


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def user(db, django_user_model):
    return django_user_model.objects.create_user(
        username="alice", email="alice@example.com", password="s3cret-pass-word"
    )


@pytest.fixture
def spans():
    """Tracing on for this test, into the SDK's in-memory exporter (tests/tracing.py).
    Ask for it before the clients that send requests: they build their middleware then."""
    from tests.tracing import Spans

    recorder = Spans()
    recorder.start()
    yield recorder
    recorder.stop()
