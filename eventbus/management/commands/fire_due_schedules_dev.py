"""DEVELOPMENT ONLY: fire due EventBridge Scheduler schedules against a local moto server.

moto stores schedules but never fires them. This stands in for Scheduler on a laptop:
each one-time ``at(...)`` schedule in the group whose time has passed is sent to its
target bus with ``put_events`` (its DetailType, Source and Input), then deleted as
``ActionAfterCompletion: DELETE`` asks. It refuses to run against anything but loopback,
so it can never touch real AWS, where Scheduler does this itself.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from eventbus import aws
from eventbus.backends.eventbridge import error_code, parse_at_expression

logger = logging.getLogger(__name__)


def _is_loopback(url: str | None) -> bool:
    host = urlparse(url or "").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ensure_local_endpoints() -> None:
    """Refuse unless both clients talk to a loopback endpoint (moto, never AWS)."""
    for service in ("scheduler", "events"):
        endpoint = aws.client(service).meta.endpoint_url
        if not _is_loopback(endpoint):
            raise CommandError(
                f"fire_due_schedules_dev is for a local moto server only; the {service} "
                f"endpoint is {endpoint}. Set AWS_ENDPOINT_URL=http://127.0.0.1:5000."
            )


def fire_due_schedules(*, now: datetime | None = None) -> int:
    """Fire every due one-time schedule of the group once; returns how many fired."""
    moment = now or datetime.now(UTC)
    group = settings.EVENT_BUS["OPTIONS"].get("schedule_group", "shop")
    scheduler, events = aws.client("scheduler"), aws.client("events")
    fired = 0
    for summary in _list_schedules(scheduler, group):
        try:
            schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=group)
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                continue  # cancelled meanwhile
            raise
        due_at = parse_at_expression(schedule["ScheduleExpression"])
        if due_at is None or due_at > moment or schedule.get("State") == "DISABLED":
            continue
        target = schedule["Target"]
        parameters = target.get("EventBridgeParameters", {})
        response = events.put_events(
            Entries=[
                {
                    "Source": parameters["Source"],
                    "DetailType": parameters["DetailType"],
                    "Detail": target.get("Input") or "{}",
                    "EventBusName": target["Arn"],
                }
            ]
        )
        if response.get("FailedEntryCount"):
            logger.warning("schedule %s not fired: %s", schedule["Name"], response["Entries"])
            continue
        fired += 1
        logger.info("fired schedule %s (%s)", schedule["Name"], parameters["DetailType"])
        if schedule.get("ActionAfterCompletion", "DELETE") != "NONE":
            try:
                scheduler.delete_schedule(Name=schedule["Name"], GroupName=group)
            except ClientError as error:
                if error_code(error) != "ResourceNotFoundException":
                    raise
        else:
            # A completed one-time schedule never fires again: disable it like Scheduler.
            scheduler.update_schedule(
                **{key: schedule[key] for key in _UPDATE_KEYS if schedule.get(key) is not None},
                State="DISABLED",
            )
    return fired


_UPDATE_KEYS = (
    "Name",
    "GroupName",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "FlexibleTimeWindow",
    "Target",
    "Description",
    "ActionAfterCompletion",
)


def _list_schedules(scheduler: Any, group: str) -> list[dict[str, Any]]:
    schedules: list[dict[str, Any]] = []
    request: dict[str, Any] = {"GroupName": group}
    while True:
        page = scheduler.list_schedules(**request)
        schedules += page.get("Schedules", [])
        if not page.get("NextToken"):
            return schedules
        request["NextToken"] = page["NextToken"]


class Command(BaseCommand):
    help = (
        "DEVELOPMENT ONLY (moto never fires schedules): publish due one-time Scheduler "
        "schedules to their bus and delete them. Refuses non-loopback AWS endpoints."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="Keep firing until stopped.")
        parser.add_argument(
            "--interval", type=float, default=1.0, help="Seconds between passes with --loop."
        )

    def handle(self, *args: Any, loop: bool, interval: float, **options: Any) -> None:
        ensure_local_endpoints()
        if not loop:
            self.stdout.write(f"fired {fire_due_schedules()} schedule(s)")
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write("Firing due schedules against moto (development only; SIGTERM stops)")
        while not stop.is_set():
            try:
                fire_due_schedules()
            except Exception:
                logger.warning("firing schedules failed; trying again", exc_info=True)
            stop.wait(interval)
