"""Dispatching due reminders: does the cost follow the number due, not the number stored?

Times ``eventbus.scheduling.publish_due_scheduled_events`` (the local scheduler: claim the
due ScheduledEvent rows, publish each CartReminderDue through the outbox, drop the rows)
for 1,000 due reminders among 100,000 pending, and for 1,000 due among 1,000, on
PostgreSQL in the same run, and prints the ratio (goal: at most 2). Both use the
in-memory bus, so only the database work differs.

Each case has its own scratch database and the rounds alternate between them, so load on
the machine hits both alike (one table cannot hold 1,000 and 100,000 rows at once, and
rebuilding 99,000 rows between rounds would time the rebuild's aftermath).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from datetime import timedelta

from bench._django import setup

DUE = int(os.environ.get("BENCH_REMINDERS_DUE", "1000"))
STORED = int(os.environ.get("BENCH_REMINDERS_STORED", "100000"))
ROUNDS = int(os.environ.get("BENCH_REMINDERS_ROUNDS", "7"))
GOAL = 2.0


def main() -> None:
    # Relay in the committing thread, so the count of published events is final at once.
    small_url = setup(
        database="bench_reminders",
        env={"EVENT_BUS_BACKEND": "memory", "OUTBOX_RELAY_AFTER_COMMIT": "inline"},
    )
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from eventbus.backend import get_backend
    from eventbus.models import OutboxEvent, ScheduledEvent
    from eventbus.scheduling import publish_due_scheduled_events

    small_db = small_url.rsplit("/", 1)[1]
    large_db = _create_database("bench_reminders_large", like=small_url)

    def use(database: str) -> None:
        connection.close()
        connection.settings_dict["NAME"] = database

    template = _due_envelope()
    now = timezone.now()
    rng = random.Random(5)

    def rows(count: int, *, due: bool, tag: str) -> list[ScheduledEvent]:
        made = []
        for number in range(count):
            envelope = {**template, "detail": {**template["detail"], "reminder_id": number + 1}}
            if due:
                due_at = now - timedelta(seconds=rng.uniform(1, 3600))
            else:
                due_at = now + timedelta(seconds=rng.uniform(60, 30 * 24 * 3600))
            made.append(
                ScheduledEvent(
                    key=f"cart-reminder-{tag}-{number}", due_at=due_at, envelope=envelope
                )
            )
        return made

    def vacuum() -> None:
        with connection.cursor() as cursor:
            for table in (ScheduledEvent._meta.db_table, OutboxEvent._meta.db_table):
                cursor.execute(f"VACUUM ANALYZE {table}")

    def dispatch_all_due() -> float:
        started = time.perf_counter()
        published = 0
        while True:
            count = publish_due_scheduled_events(now=now)
            published += count
            if count == 0:
                break
        elapsed = time.perf_counter() - started
        assert published == DUE, f"published {published}, expected {DUE}"
        return elapsed

    def round_(*, database: str, tag: str) -> float:
        """Add DUE due reminders to what ``database`` stores, then time their dispatch."""
        use(database)
        stored = ScheduledEvent.objects.count()
        ScheduledEvent.objects.bulk_create(rows(DUE, due=True, tag=tag), batch_size=5000)
        OutboxEvent.objects.all().delete()
        get_backend().clear()
        vacuum()
        elapsed = dispatch_all_due()
        assert len(get_backend().published) == DUE
        assert ScheduledEvent.objects.count() == stored
        return elapsed

    use(large_db)
    call_command("migrate", verbosity=0)
    ScheduledEvent.objects.bulk_create(rows(STORED - DUE, due=False, tag="future"), batch_size=5000)

    small, large = [], []
    for number in range(ROUNDS):
        small.append(round_(database=small_db, tag=f"small-{number}"))
        large.append(round_(database=large_db, tag=f"large-{number}"))

    best_small, best_large = min(small), min(large)
    ratio = best_large / best_small
    print(
        f"dispatch {DUE} due among {DUE}: best {best_small * 1000:.1f} ms of {ROUNDS} rounds "
        f"({best_small / DUE * 1e6:.0f} us per reminder)"
    )
    print(
        f"dispatch {DUE} due among {STORED}: best {best_large * 1000:.1f} ms of {ROUNDS} rounds "
        f"({best_large / DUE * 1e6:.0f} us per reminder)"
    )
    print("rounds (ms), among", DUE, [round(value * 1000) for value in small])
    print("rounds (ms), among", STORED, [round(value * 1000) for value in large])
    print(
        f"ratio (among {STORED} / among {DUE}): {ratio:.2f} (goal <= {GOAL:.0f}) "
        f"{'OK' if ratio <= GOAL else 'MISSED'}"
    )
    use(small_db)


def _create_database(name: str, *, like: str) -> str:
    """A second scratch database on the same server as ``like``; returns its name."""
    import psycopg

    server = like.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def _due_envelope() -> dict:
    """A CartReminderDue envelope as the reminder policy schedules it."""
    from eventbus.conversion import to_envelope
    from notifications.events import CartReminderDue

    return to_envelope(
        CartReminderDue(reminder_id=1, cart_id=str(uuid.uuid4()), step=1, activity_sequence=3)
    ).to_dict()


if __name__ == "__main__":
    main()
