"""EventBridge's own catch-up for a subscription: ``StartReplay`` of the bus's archive with
the subscription's rule as the only destination (``replay_events --from-archive``).

The replayed events take the live path, rule -> the subscription's SQS queue ->
``consume_events`` -> delivery, where the processed-event records make any event the
consumer had handled already a duplicate; so a replay, or two, changes nothing twice. The
archive holds every event that reached the bus, also those the outbox never had
(EventBridge Scheduler's reminders go to the bus directly), for as long as it keeps them.
EventBridge sends replayed events in no particular order; the consumer must not need one
(the cart projection parks an early event until its predecessors arrive).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from django.utils import timezone

from eventbus.aws.backend import EventBridgeBackend, error_code, eventbridge_backend
from eventbus.subscriptions import get_subscription

# A replay ends in one of these (StartReplay's states: STARTING, RUNNING, CANCELLING, ...).
FINAL_STATES = frozenset({"COMPLETED", "CANCELLED", "FAILED"})
# Replay names: 1-64 of [.-_A-Za-z0-9].
_MAX_NAME = 64


class ArchiveReplayError(Exception):
    """The replay cannot be started: no archive, no rule, or a window the archive lacks."""


@dataclass(frozen=True)
class ArchiveReplay:
    """A replay that was started (or, in a dry run, would be)."""

    name: str
    archive_arn: str
    rule_arn: str
    bus_arn: str
    since: datetime
    until: datetime
    arn: str = ""
    state: str = ""

    def fraction_done(self, status: dict[str, Any]) -> float:
        """How far ``status`` (DescribeReplay's answer) got through the window, 0 to 1."""
        if status.get("State") == "COMPLETED":
            return 1.0
        last = status.get("EventLastReplayedTime")
        if not isinstance(last, datetime):
            return 0.0
        window = (self.until - self.since).total_seconds()
        return min(1.0, max(0.0, (last - self.since).total_seconds() / window)) if window else 1.0


def replay_name(subscription_name: str, now: datetime) -> str:
    """``<subscription>-<UTC time>`` and, where the name has room, a random suffix: two
    replays started in one second still get names of their own."""
    name = f"{subscription_name}-{now.astimezone(UTC):%Y%m%dT%H%M%S}"
    room = _MAX_NAME - len(name) - 1
    return f"{name}-{uuid.uuid4().hex[: min(room, 6)]}" if room >= 4 else name[:_MAX_NAME]


def archive_replay_start(
    *,
    subscription_name: str,
    since: datetime | None = None,
    until: datetime | None = None,
    dry_run: bool = False,
    backend: EventBridgeBackend | None = None,
) -> ArchiveReplay:
    """Start replaying the archive's events from ``since`` (default: the oldest it can
    hold) to ``until`` (default: now) into the subscription's rule alone."""
    subscription = get_subscription(subscription_name)  # LookupError: not in the code
    backend = backend or eventbridge_backend()
    events = backend.client("events")
    names = backend.names
    try:
        archive = events.describe_archive(ArchiveName=names.archive)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        raise ArchiveReplayError(
            f"the bus {names.bus_name} has no archive {names.archive}: "
            "`manage.py provision_eventbridge` (or the CloudFormation template) creates it"
        ) from error
    try:
        rule = events.describe_rule(Name=names.rule(subscription.name), EventBusName=names.bus_name)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        raise ArchiveReplayError(
            f"no rule {names.rule(subscription.name)} on the bus {names.bus_name}: run "
            "`manage.py provision_eventbridge` first, so the rule and its queue exist"
        ) from error
    now = timezone.now()
    until = until or now
    since = since or archive_horizon(archive, now=now)
    if since >= until:
        raise ArchiveReplayError(
            f"since ({since.isoformat()}) must be before until ({until.isoformat()})"
        )
    replay = ArchiveReplay(
        name=replay_name(subscription.name, now),
        archive_arn=archive["ArchiveArn"],
        rule_arn=rule["Arn"],
        bus_arn=backend.bus_arn(),
        since=since,
        until=until,
    )
    if dry_run:
        return replay
    started = events.start_replay(
        ReplayName=replay.name,
        Description=f"replay_events --from-archive --subscription {subscription.name}",
        EventSourceArn=replay.archive_arn,
        EventStartTime=since,
        EventEndTime=until,
        # The bus the archive archives, and of its rules only the subscription's.
        Destination={"Arn": replay.bus_arn, "FilterArns": [replay.rule_arn]},
    )
    return dataclasses.replace(replay, arn=started.get("ReplayArn", ""), state=started["State"])


def archive_horizon(archive: dict[str, Any], *, now: datetime) -> datetime:
    """The oldest moment whose events the archive (DescribeArchive's answer) can still have:
    its creation, or ``RetentionDays`` ago (0 keeps them for ever)."""
    created: datetime = archive["CreationTime"]
    days = int(archive.get("RetentionDays") or 0)
    return max(created, now - timedelta(days=days)) if days else created


def archive_replay_wait(
    replay: ArchiveReplay,
    *,
    progress: Callable[[dict[str, Any]], None] | None = None,
    poll_seconds: float = 5.0,
    timeout_seconds: float | None = None,
    backend: EventBridgeBackend | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll DescribeReplay until the replay ends (or ``timeout_seconds`` pass); its last
    answer. ``progress`` gets each answer."""
    events = (backend or eventbridge_backend()).client("events")
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    while True:
        status = events.describe_replay(ReplayName=replay.name)
        if progress:
            progress(status)
        if status["State"] in FINAL_STATES:
            return status
        if deadline is not None and time.monotonic() >= deadline:
            return status
        sleep(poll_seconds)
