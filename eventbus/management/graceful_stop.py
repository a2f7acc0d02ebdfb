"""The long-running commands' loop: passes every few seconds until SIGTERM or SIGINT, each
pass finished before stopping, and the signal handlers of the caller restored after."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import close_old_connections

logger = logging.getLogger(__name__)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event that SIGTERM or SIGINT sets while the block runs.

    Signal handlers can only be installed from the main thread; elsewhere (a command called
    from a test's thread) the event is only set by whoever holds it.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {
        number: signal.signal(number, lambda *_: stop.set())
        for number in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def repeat_until_stopped(
    step: Callable[[], None], *, interval: float, stop: threading.Event, what: str
) -> None:
    """Run ``step`` every ``interval`` seconds until ``stop`` is set.

    A failing pass (the database or the bus is down) is logged and tried again next time;
    stale database connections are closed between passes, so the loop outlives a restart.
    """
    while not stop.is_set():
        try:
            close_old_connections()
            step()
        except Exception:
            logger.exception("%s failed; trying again in %ss", what, interval)
        stop.wait(interval)
