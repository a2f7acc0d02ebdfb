"""Fixtures for browser tests: the shop served by gunicorn on the test database, a real
Celery worker delivering its events, and headless Debian Chromium driven by Playwright.
``shop_server`` starts both for one test; ``shared_shop_server`` shares them across a
module.

A failed test leaves a screenshot of its page in ``test-artifacts/``. Outside CI a
missing Chromium skips these tests; under ``CI=true`` it fails them.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.integration import conftest as integration
from tests.integration.conftest import IN_CI, ROOT

# The integration fixtures this directory uses: a real Celery worker on the test database.
require_postgres = integration.require_postgres
require_redis = integration.require_redis
worker_env = integration.worker_env
start_worker = integration.start_worker

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _failed(item: pytest.Item) -> bool:
    return any(
        getattr(getattr(item, f"report_{phase}", None), "failed", False)
        for phase in ("setup", "call")
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ShopServer:
    """``gunicorn config.wsgi`` on a free loopback port, configured through its environment."""

    def __init__(self, *, env: dict[str, str], log_path: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                f"--bind=127.0.0.1:{self.port}",
                "--workers=2",
                "--threads=4",
                "--graceful-timeout=2",
                "--access-logfile=-",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # gunicorn's quick shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def server_env(base: dict[str, str], *, media_root: Path) -> dict[str, str]:
    """The environment of the gunicorn the browser tests drive."""
    return {
        **base,
        "MEDIA_ROOT": str(media_root),  # where the catalog fixture put images
        "DJANGO_SETTINGS_MODULE": "tests.browser.server_settings",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SERVE_MEDIA": "1",  # as `make run` does: the product images come from gunicorn
    }


@pytest.fixture
def shop_server(
    transactional_db, worker_env, start_worker, tmp_path, request
) -> Iterator[ShopServer]:
    """The shop as production runs it: gunicorn publishing to Redis, a Celery worker
    applying the events, both on the test database (so the test sees their commits)."""
    server = ShopServer(
        env=server_env(worker_env, media_root=settings.MEDIA_ROOT),
        log_path=tmp_path / "gunicorn.log",
    )
    try:
        start_worker()  # boots while gunicorn does
        server.wait_ready()
        yield server
    finally:
        server.stop()
        if _failed(request.node):
            print(f"--- gunicorn log ---\n{server.log()}")


class ModuleShop:
    """A gunicorn and a Celery worker that serve every test of one module."""

    def __init__(self, *, media_root: Path, logs: Path) -> None:
        import redis

        env = integration.worker_environment()
        redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
        self.media_root = media_root
        self.server = ShopServer(
            env=server_env(env, media_root=media_root), log_path=logs / "gunicorn.log"
        )
        try:
            self.worker = integration.CeleryWorker(
                env=env, beat=False, log_path=logs / "worker.log"
            )
            self.server.wait_ready()
        except BaseException:
            self.server.stop()
            raise

    def stop(self) -> None:
        self.server.stop()
        self.worker.stop()


@pytest.fixture(scope="module")
def module_shop(django_db_setup, tmp_path_factory) -> Iterator[ModuleShop]:
    """Starting gunicorn and a worker costs seconds, so a module that visits many pages
    shares them; each test still gets a clean database (see ``shared_shop_server``)."""
    _check_chromium()
    integration.check_postgres()
    integration.check_redis()
    shop = ModuleShop(
        media_root=tmp_path_factory.mktemp("media"), logs=tmp_path_factory.mktemp("logs")
    )
    yield shop
    shop.stop()


@pytest.fixture
def shared_shop_server(module_shop, transactional_db, settings, request) -> Iterator[ShopServer]:
    """The module's shop on a database of this test's own (flushed afterwards), with the
    demo catalog seeded into the media folder the server reads."""
    settings.MEDIA_ROOT = module_shop.media_root
    request.getfixturevalue("catalog")
    yield module_shop.server
    if _failed(request.node):
        print(f"--- gunicorn log ---\n{module_shop.server.log()}")
        print(f"--- worker log ---\n{module_shop.worker.log()}")


@pytest.fixture(autouse=True)
def _require_chromium() -> None:
    """Checked before any server starts: skip (or, in CI, fail) without a browser."""
    _check_chromium()


def _check_chromium() -> None:
    if not CHROMIUM.exists():
        reason = f"Chromium at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"CI needs {reason}")
        pytest.skip(f"needs {reason}")


@pytest.fixture
def chromium(monkeypatch) -> Iterator[object]:
    """Headless Chromium for one test. Playwright's sync API keeps an event loop running
    in this thread, which trips Django's async-safety check on the test's own ORM calls;
    nothing async touches the database here, so the check is off while the browser is."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _artifact_name(item: pytest.Item) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-150:]


# Every page reports what its Content-Security-Policy blocked, as a console error.
_REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`
    + ` on ${document.location.pathname} (${event.sourceFile}:${event.lineNumber})`);
});
"""


@pytest.fixture
def open_page(chromium, request) -> Iterator[object]:
    """``open_page(java_script_enabled=...)`` gives a fresh page in its own browser context
    (own cookies, so its own guest cart); failed tests leave screenshots of their pages.
    Whatever the Content-Security-Policy blocks on any page fails the test."""
    contexts = []
    violations: list[str] = []

    def on_console(message) -> None:
        text = message.text
        if "CSP violation" in text or "Content Security Policy" in text:
            violations.append(text)

    def open_(
        *,
        java_script_enabled: bool = True,
        width: int = 1100,
        height: int = 800,
        device_scale_factor: float = 1,
    ):
        # Phone widths get a phone: touch, and the viewport meta tag honoured.
        phone = width < 600
        context = chromium.new_context(
            java_script_enabled=java_script_enabled,
            viewport={"width": width, "height": height},
            device_scale_factor=device_scale_factor,
            is_mobile=phone,
            has_touch=phone,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        context.add_init_script(_REPORT_CSP_VIOLATIONS)
        context.on("console", on_console)
        return context.new_page()

    yield open_
    failed = _failed(request.node)
    for number, context in enumerate(contexts):
        if failed:
            ARTIFACTS.mkdir(exist_ok=True)
            for page_number, page in enumerate(context.pages):
                path = ARTIFACTS / f"{_artifact_name(request.node)}-{number}-{page_number}.png"
                try:
                    page.screenshot(path=str(path), full_page=True)
                except Exception as error:  # a crashed page must not hide the real failure
                    print(f"screenshot failed: {error}")
                else:
                    print(f"screenshot saved: {path}")
        context.close()
    assert violations == [], "the Content-Security-Policy blocked:\n" + "\n".join(violations)
