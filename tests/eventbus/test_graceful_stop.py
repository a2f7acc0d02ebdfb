"""The long-running commands' stop: SIGTERM sets the stop event, and the handlers that were
there before (a test runner's, a supervisor's) are back afterwards."""

import os
import signal
import threading

import pytest

from eventbus.management.graceful_stop import repeat_until_stopped, stop_on_signals


def test_sigterm_sets_the_stop_and_the_previous_handlers_come_back():
    def previous(*_):
        raise AssertionError("the command's handler should have caught this")

    before = {number: signal.signal(number, previous) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        with stop_on_signals() as stop:
            os.kill(os.getpid(), signal.SIGTERM)
            assert stop.wait(5)
        assert signal.getsignal(signal.SIGTERM) is previous
        assert signal.getsignal(signal.SIGINT) is previous
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


@pytest.mark.django_db  # the loop closes stale database connections between passes
def test_a_failing_pass_is_logged_and_the_loop_goes_on(caplog):
    stop = threading.Event()
    passes = []

    def step() -> None:
        passes.append(1)
        if len(passes) == 1:
            raise RuntimeError("database down")
        stop.set()

    threading.Timer(10, stop.set).start()  # a loop that never calls the step still ends
    repeat_until_stopped(step, interval=0.01, stop=stop, what="test pass")

    assert len(passes) == 2
    assert "test pass failed" in caplog.text
