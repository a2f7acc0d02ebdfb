"""Who the client is (NUM_PROXIES, never a forged X-Forwarded-For), limits that hold across
processes (a shared cache), and failed logins limited per user and per client."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from core.clients import client_address

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3cret-pass-word"


def test_by_default_the_client_is_the_socket_whatever_x_forwarded_for_says():
    request = RequestFactory().get(
        "/", REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="203.0.113.99, 198.51.100.1"
    )

    assert client_address(request) == "192.0.2.10"


def test_behind_trusted_proxies_the_client_is_what_the_outermost_appended(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    forged = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.99, 198.51.100.1"
    )

    assert client_address(forged) == "198.51.100.1"


@pytest.mark.parametrize("num_proxies", [None, 1], ids=["default", "behind-one-proxy"])
def test_a_forged_x_forwarded_for_does_not_escape_the_add_throttle(product, settings, num_proxies):
    settings.CART_ADD_THROTTLE_RATE = "2/min"
    if num_proxies is not None:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": num_proxies}

    def add(forged: str) -> int:
        # A new client each time: no cookie, so no session to count by either.
        return (
            APIClient()
            .post(
                "/api/cart/items/",
                {"sku": "COF-001"},
                format="json",
                REMOTE_ADDR="10.0.0.2",
                HTTP_X_FORWARDED_FOR=f"203.0.113.{forged}, 198.51.100.1",
            )
            .status_code
        )

    assert [add(str(number)) for number in range(1, 5)] == [202, 202, 429, 429]


def test_the_default_cache_is_shared_by_the_processes_of_a_machine(tmp_path):
    """Throttle counts live in the cache: one process's count must be the next one's."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CACHE_URL", "DJANGO_SETTINGS_MODULE", "VAR_DIR"}
    }
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path / "var")})

    def run(code: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {code}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    run("from django.core.cache import cache; cache.set('hits', 41, 60); cache.incr('hits')")

    assert run("from django.core.cache import cache; print(cache.get('hits'))") == "42"
    assert (tmp_path / "var" / "cache").is_dir()


# --- Failed logins (django-axes) -------------------------------------------------------------


@pytest.fixture
def alice(django_user_model, settings):
    settings.AXES_FAILURE_LIMIT = 3
    return django_user_model.objects.create_user(username="alice", password=PASSWORD)


def log_in(username: str, password: str, address: str, url: str = "/accounts/login/", **extra):
    return Client().post(
        url, {"username": username, "password": password}, REMOTE_ADDR=address, **extra
    )


def test_failed_logins_lock_the_user_out_from_any_address(alice):
    answers = [log_in("alice", "wrong", f"198.51.100.{number}").status_code for number in range(3)]
    assert answers == [200, 200, 429]  # the third failure reaches the limit

    locked = log_in("alice", PASSWORD, "192.0.2.77")

    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()


def test_failed_logins_lock_the_client_out_for_any_user(alice, django_user_model):
    django_user_model.objects.create_user(username="bob", password=PASSWORD)
    for name in ("carol", "dave", "erin"):  # guessing names
        log_in(name, "wrong", "203.0.113.5")

    assert log_in("bob", PASSWORD, "203.0.113.5").status_code == 429
    assert log_in("bob", PASSWORD, "203.0.113.6").status_code == 302  # another client may


def test_a_forged_x_forwarded_for_does_not_escape_the_login_limit(alice, django_user_model):
    django_user_model.objects.create_user(username="bob", password=PASSWORD)
    for number, name in enumerate(("carol", "dave", "erin")):
        log_in(name, "wrong", "203.0.113.5", HTTP_X_FORWARDED_FOR=f"10.9.9.{number}")

    assert log_in("bob", PASSWORD, "203.0.113.5", HTTP_X_FORWARDED_FOR="10.9.9.9").status_code == (
        429
    )


def test_the_admin_login_is_limited_too(alice):
    for _ in range(3):
        log_in("alice", "wrong", "198.51.100.1", url="/admin/login/")

    assert log_in("alice", PASSWORD, "198.51.100.2", url="/admin/login/").status_code == 429


def test_a_successful_login_starts_the_count_again(alice):
    for _ in range(2):
        log_in("alice", "wrong", "198.51.100.1")
    assert log_in("alice", PASSWORD, "198.51.100.1").status_code == 302

    for _ in range(2):
        log_in("alice", "wrong", "198.51.100.1")
    assert log_in("alice", PASSWORD, "198.51.100.1").status_code == 302
