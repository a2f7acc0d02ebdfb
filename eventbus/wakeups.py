"""Wake a relay process when an outbox row commits, instead of polling for it.

On PostgreSQL a statement trigger on the outbox table (migration 0003) sends
``NOTIFY eventbus_outbox`` in the inserting transaction; PostgreSQL delivers it at commit,
once per transaction and never for a rollback, and the accepting request pays no extra
round trip for it. A relay that LISTENs wakes within a millisecond of the commit and, when
it published a batch only a moment ago, lingers until a few milliseconds after it, so that
the commits of every web process in that window travel as one batch; otherwise it sleeps.
Elsewhere (SQLite) there is nothing to listen to and the relay polls at its interval.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import connections

logger = logging.getLogger(__name__)

CHANNEL = "eventbus_outbox"


class OutboxWakeups:
    """``wait()`` returns True soon after an outbox insert commits, False at its timeout."""

    def __init__(self, *, stop: threading.Event, alias: str = "default") -> None:
        self._stop = stop
        self._alias = alias
        self._listener = None
        self.listening = connections[alias].vendor == "postgresql"

    def wait(self, timeout: float) -> bool:
        """Sleep until a committed outbox insert, ``timeout`` or the stop, whichever first."""
        if not self.listening or self._stop.is_set():
            self._stop.wait(timeout)
            return False
        deadline = time.monotonic() + timeout
        try:
            listener = self._connected()
            # In slices: a signal does not interrupt psycopg's wait, the stop must be seen.
            while not self._stop.is_set():
                left = deadline - time.monotonic()
                if any(
                    True for _ in listener.notifies(timeout=min(max(left, 0.0), 0.5), stop_after=1)
                ):
                    return True
                if left <= 0.5:
                    return False
        except Exception:  # the database restarted: poll once, listen again next time
            logger.warning("lost the outbox LISTEN connection; reconnecting", exc_info=True)
            self.close()
            self._stop.wait(timeout)
        return False

    def linger(self, seconds: float) -> None:
        """Let more commits arrive for ``seconds`` (they join the next batch; none when not
        positive), then forget the notices the batch answers."""
        if seconds > 0:
            self._stop.wait(seconds)
        if self._listener is not None:
            try:
                for _ in self._listener.notifies(timeout=0.0):
                    pass
            except Exception:
                self.close()

    def _connected(self):
        if self._listener is None or self._listener.closed:
            import psycopg

            params = connections[self._alias].get_connection_params()
            self._listener = psycopg.connect(**params, autocommit=True)
            self._listener.execute(f"LISTEN {CHANNEL}")
        return self._listener

    def close(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            finally:
                self._listener = None
