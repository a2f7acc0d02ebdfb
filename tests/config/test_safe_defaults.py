"""Safe defaults: with DEBUG off the shop never runs on a missing or public signing key
(`make run`'s key file under var/ is what a fresh clone runs on), and Django serves no
media unless DEBUG or `make run` asks for it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRINT_KEY = "from django.conf import settings; print(settings.SECRET_KEY)"


def start(tmp_path: Path, code: str = PRINT_KEY, **env: str) -> subprocess.CompletedProcess:
    """Load the shop's own settings (not the tests') in a process of its own."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "VAR_DIR", "SERVE_MEDIA"}
    }
    environment.update(
        {"DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path / "var"), **env}
    )
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("django-insecure-local-only-change-me", id="the-old-public-default"),
        pytest.param("django-insecure-" + "x" * 50, id="any-insecure-key"),
    ],
)
def test_without_a_real_key_the_shop_refuses_to_start(tmp_path, key):
    env = {"DEBUG": "0"} if key is None else {"DEBUG": "0", "SECRET_KEY": key}

    result = start(tmp_path, **env)

    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured: SECRET_KEY is missing or insecure" in (
        result.stderr
    )
    assert "make run" in result.stderr  # says how to get one


def test_the_key_make_run_wrote_is_used(tmp_path):
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret_key").write_text("written-by-bin-setup-" + "k" * 40 + "\n")

    result = start(tmp_path, DEBUG="0")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "written-by-bin-setup-" + "k" * 40


def test_the_environment_wins_over_the_key_file(tmp_path):
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret_key").write_text("from-the-file-" + "f" * 40)

    result = start(tmp_path, DEBUG="0", SECRET_KEY="from-the-environment-" + "e" * 40)

    assert result.stdout.strip() == "from-the-environment-" + "e" * 40


def test_debug_runs_without_a_key(tmp_path):
    result = start(tmp_path, DEBUG="1")

    assert result.returncode == 0, result.stderr


MEDIA_ROUTE = (
    "from django.urls import resolve, Resolver404\n"
    "try:\n    resolve('/media/products/cof-001.png'); print('served')\n"
    "except Resolver404:\n    print('not served')"
)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DEBUG": "0", "SECRET_KEY": "k" * 60}, "not served"),
        ({"DEBUG": "1"}, "served"),
        ({"DEBUG": "0", "SECRET_KEY": "k" * 60, "SERVE_MEDIA": "1"}, "served"),  # make run
    ],
)
def test_django_serves_media_only_with_debug_or_when_asked(tmp_path, env, expected):
    result = start(tmp_path, MEDIA_ROUTE, **env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
