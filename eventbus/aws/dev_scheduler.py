"""DEVELOPMENT ONLY: fire due EventBridge Scheduler schedules against a local moto server.

(``manage.py fire_due_schedules_dev`` runs it.)

moto stores schedules but never fires them. This stands in for Scheduler on a laptop:
each one-time ``at(...)`` schedule in the group whose time has passed is sent to its
target bus with ``put_events`` (its DetailType, Source and Input), then deleted as
``ActionAfterCompletion: DELETE`` asks. It refuses to run against anything but loopback,
so it can never touch real AWS, where Scheduler does this itself.
"""

from __future__ import annotations

import ipaddress
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError
from django.core.exceptions import ImproperlyConfigured

from eventbus.aws.backend import (
    EventBridgeBackend,
    error_code,
    eventbridge_backend,
    parse_at_expression,
)

logger = logging.getLogger(__name__)


def _is_loopback(url: str | None) -> bool:
    host = urlparse(url or "").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ensure_local_endpoints(backend: EventBridgeBackend | None = None) -> None:
    """Refuse unless both clients talk to a loopback endpoint (moto, never AWS)."""
    backend = backend or eventbridge_backend()
    for service in ("scheduler", "events"):
        endpoint = backend.client(service).meta.endpoint_url
        if not _is_loopback(endpoint):
            raise ImproperlyConfigured(
                f"fire_due_schedules_dev is for a local moto server only; the {service} "
                f"endpoint is {endpoint}. Set AWS_ENDPOINT_URL=http://127.0.0.1:5000."
            )


def fire_due_schedules(
    *, now: datetime | None = None, backend: EventBridgeBackend | None = None
) -> int:
    """Fire every due one-time schedule of the group once; returns how many fired."""
    moment = now or datetime.now(UTC)
    backend = backend or eventbridge_backend()
    group = backend.schedule_group
    scheduler, events = backend.client("scheduler"), backend.client("events")
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
