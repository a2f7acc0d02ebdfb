"""EventBridge backend: ``put_events`` to a custom bus, rules route to one SQS queue per
subscription, EventBridge Scheduler publishes scheduled events back onto the bus.

The backend owns its options (bus, queue prefix, schedule group, region, ...): the AWS
resources get their names from ``ResourceNames``, built once here, so provisioning, the SQS
consumer and the development schedule firer ask the backend instead of reading settings.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.core.exceptions import ImproperlyConfigured

from eventbus.aws import clients
from eventbus.backend import (
    LOCAL_ACCOUNT,
    LOCAL_REGION,
    EventBusBackend,
    PublishResult,
    get_backend,
)
from eventbus.envelope import Envelope, MalformedEnvelope

logger = logging.getLogger(__name__)

# EventBridge's limit on entries per PutEvents call.
MAX_ENTRIES_PER_CALL = 10
# Entry error codes inside a 200 response that are worth sending again; any other code
# means the entry itself is wrong and will fail the same way every time.
RETRYABLE_ENTRY_ERRORS = frozenset({"ThrottlingException", "InternalFailure"})
# EventBridge assigns every event its own id; ours rides in the detail under this key so a
# consumer gets the outbox id back (dedupe survives a resend, the API's event_id matches).
ENVELOPE_ID_KEY = "envelope_id"
# How long Scheduler keeps trying to deliver a due schedule before its dead-letter queue.
SCHEDULE_RETRY_POLICY = {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10}


def error_code(error: BaseException) -> str:
    """The AWS error code of a ``ClientError`` ('' for anything else)."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def entry_size(entry: dict[str, Any]) -> int:
    """An entry's size as AWS counts it against the PutEvents request limit.

    AWS documents it as the UTF-8 bytes of Source, DetailType, Detail and each Resources
    string, plus 14 bytes when Time is set.
    """
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        size += len((entry.get(key) or "").encode())
    size += sum(len(resource.encode()) for resource in entry.get("Resources") or ())
    return size


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def put_events_entry(envelope: Envelope, *, bus_name: str) -> dict[str, Any]:
    """The PutEvents entry for ``envelope``, carrying our envelope id in the detail.

    EventBridge assigns its own event id; ours rides in the detail so that consumers
    deduplicate on it. UTF-8 as is, not \\u escapes: a non-ASCII character counts 2-4
    bytes against the request limit instead of 6.
    """
    return {
        "Source": envelope.source,
        "DetailType": envelope.detail_type,
        "Detail": _compact_json({**envelope.detail, ENVELOPE_ID_KEY: envelope.id}),
        "Resources": list(envelope.resources),
        "Time": envelope.time,
        "EventBusName": bus_name,
    }


@dataclass(frozen=True)
class _Entry:
    """One envelope of a publish call on its way to PutEvents."""

    index: int  # its position in the publish call (and so in the results)
    body: dict[str, Any]
    size: int


def envelope_from_message(body: str | bytes) -> Envelope:
    """The envelope in an SQS message body that EventBridge (or ``redeliver``) sent.

    Restores our envelope id from the detail, so a consumer sees the id the outbox gave
    the event. Raises ``MalformedEnvelope`` for anything that is not an event.
    """
    try:
        data = json.loads(body)
    except (TypeError, ValueError) as error:
        raise MalformedEnvelope(f"not JSON: {error}") from error
    if isinstance(data, dict) and isinstance(data.get("detail"), dict):
        detail = dict(data["detail"])
        envelope_id = detail.pop(ENVELOPE_ID_KEY, None)
        data = {**data, "detail": detail}
        if envelope_id:
            data["id"] = str(envelope_id)
    return Envelope.from_dict(data)


def at_expression(moment: datetime) -> str:
    """Scheduler's one-time expression, in UTC to the second, never earlier than ``moment``."""
    if moment.tzinfo is None:
        raise ValueError("schedule times must be timezone-aware")
    utc = moment.astimezone(UTC)
    if utc.microsecond:
        utc = utc.replace(microsecond=0) + timedelta(seconds=1)
    return f"at({utc:%Y-%m-%dT%H:%M:%S})"


def parse_at_expression(expression: str) -> datetime | None:
    """The UTC time of an ``at(...)`` expression; None for rate/cron expressions."""
    if not (expression.startswith("at(") and expression.endswith(")")):
        return None
    return datetime.strptime(expression[3:-1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)


@dataclass(frozen=True)
class ResourceNames:
    """Names of the AWS resources of one deployment (bus name + queue prefix)."""

    bus_name: str
    queue_prefix: str
    schedule_group: str

    def rule(self, subscription_name: str) -> str:
        # Rules live inside the bus, so the subscription name is unique enough.
        return subscription_name

    def queue(self, subscription_name: str) -> str:
        return f"{self.queue_prefix}-{subscription_name}"

    def dead_letter_queue(self, subscription_name: str) -> str:
        return f"{self.queue_prefix}-{subscription_name}-dlq"

    @property
    def schedules_dead_letter_queue(self) -> str:
        return f"{self.queue_prefix}-schedules-dlq"

    @property
    def scheduler_role(self) -> str:
        return f"{self.queue_prefix}-scheduler"

    @property
    def archive(self) -> str:
        """The bus's archive, which EventBridge replays from (``replay_events --from-archive``)."""
        return f"{self.bus_name}-archive"

    @property
    def schema_registry(self) -> str:
        return f"{self.bus_name}-events"


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """(partition, region, account) of an ARN."""
    parts = arn.split(":")
    return parts[1], parts[3], parts[4]


class EventBridgeBackend(EventBusBackend):
    """``put_events`` to the bus; Scheduler for schedules; SQS for redelivery."""

    def __init__(
        self,
        *,
        bus_name: str = "shop",
        queue_prefix: str = "shop",
        schedule_group: str = "shop",
        region: str = "",
        account: str = "",
        scheduler_role_arn: str = "",
        max_request_bytes: int = 1024 * 1024,
        put_events_attempts: int = 3,
        put_events_backoff_seconds: float = 0.1,
        archive_retention_days: int = 30,
    ) -> None:
        self.names = ResourceNames(
            bus_name=bus_name, queue_prefix=queue_prefix, schedule_group=schedule_group
        )
        # "" or "local": let boto3 take the region from the environment and profile.
        self.region = region if region not in ("", LOCAL_REGION) else None
        self.account = account
        self.max_request_bytes = int(max_request_bytes)
        self.put_events_attempts = max(1, int(put_events_attempts))
        self.put_events_backoff_seconds = float(put_events_backoff_seconds)
        # How long the bus's archive keeps events for replay (0: for ever).
        self.archive_retention_days = int(archive_retention_days)
        self._scheduler_role_arn = scheduler_role_arn
        self._bus_arn: str | None = None
        self._queue_urls: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def bus_name(self) -> str:
        return self.names.bus_name

    @property
    def schedule_group(self) -> str:
        return self.names.schedule_group

    @property
    def origin(self) -> tuple[str, str]:
        return self.account or LOCAL_ACCOUNT, self.region or LOCAL_REGION

    def client(self, service: str, *, attempts: int | None = None) -> Any:
        """The process's boto3 client for ``service`` in this bus's region (``attempts``:
        another retry budget than the standard one, in a client of its own)."""
        options = {} if attempts is None else {"attempts": attempts}
        # The same call as everyone else's for the default region: one cached client.
        if self.region:
            return clients.client(service, self.region, **options)
        return clients.client(service, **options)

    # --- publishing -------------------------------------------------------------------------

    def entry(self, envelope: Envelope) -> dict[str, Any]:
        """The PutEvents entry of ``envelope`` on this bus."""
        return put_events_entry(envelope, bus_name=self.bus_name)

    def publish(self, envelopes: Sequence[Envelope]) -> list[PublishResult]:
        results: list[PublishResult | None] = [None] * len(envelopes)
        sendable: list[_Entry] = []
        for index, envelope in enumerate(envelopes):
            body = self.entry(envelope)
            size = entry_size(body)
            if size > self.max_request_bytes:
                results[index] = PublishResult.reject(
                    f"EntryTooLarge: the event is {size} bytes as EventBridge counts it, over "
                    f"the {self.max_request_bytes}-byte PutEvents request limit; it can never "
                    "be published"
                )
            else:
                sendable.append(_Entry(index, body, size))
        batches = list(self._batches(sendable))
        for number, batch in enumerate(batches):
            unreachable = self._send_batch(batch, results)
            if unreachable:
                # The bus is down or refuses us: do not wait out a timeout per batch.
                for later in batches[number + 1 :]:
                    for entry in later:
                        results[entry.index] = PublishResult.retry(unreachable)
                break
        return [result or PublishResult.retry("not sent") for result in results]

    def _batches(self, sendable: list[_Entry]) -> Iterator[list[_Entry]]:
        """Consecutive groups of at most 10 entries whose sizes fit one request."""
        batch: list[_Entry] = []
        batch_bytes = 0
        for entry in sendable:
            if batch and (
                len(batch) == MAX_ENTRIES_PER_CALL
                or batch_bytes + entry.size > self.max_request_bytes
            ):
                yield batch
                batch, batch_bytes = [], 0
            batch.append(entry)
            batch_bytes += entry.size
        if batch:
            yield batch

    def _send_batch(self, batch: list[_Entry], results: list[PublishResult | None]) -> str:
        """Send one batch, resending only its retryable failures; fills ``results``.

        Returns an error message when the call itself failed (bus unreachable), else ''.
        """
        events = self.client("events")
        pending = batch
        last_errors: dict[int, str] = {}
        for attempt in range(1, self.put_events_attempts + 1):
            try:
                response = events.put_events(Entries=[entry.body for entry in pending])
            except (ClientError, BotoCoreError) as error:
                # botocore already retried the call (standard mode); the rows wait in the
                # outbox for the relay's next attempt.
                message = f"PutEvents failed: {type(error).__name__}: {error}"
                logger.warning("%s", message)
                for entry in pending:
                    results[entry.index] = PublishResult.retry(message)
                return message
            retry_next: list[_Entry] = []
            for entry, outcome in zip(pending, response["Entries"], strict=True):
                code = outcome.get("ErrorCode")
                if not code:
                    results[entry.index] = PublishResult.success()
                    continue
                message = f"{code}: {outcome.get('ErrorMessage', '')}".rstrip(": ")
                if code in RETRYABLE_ENTRY_ERRORS:
                    last_errors[entry.index] = message
                    retry_next.append(entry)
                else:
                    results[entry.index] = PublishResult.reject(
                        f"EventBridge rejected the event: {message}"
                    )
            if not retry_next:
                return ""
            pending = retry_next
            if attempt < self.put_events_attempts:
                time.sleep(self._backoff(attempt))
        for entry in pending:
            results[entry.index] = PublishResult.retry(
                f"{last_errors[entry.index]} (after {self.put_events_attempts} attempts)"
            )
        return ""

    def _backoff(self, attempt: int) -> float:
        ceiling = min(2.0, self.put_events_backoff_seconds * 2 ** (attempt - 1))
        # Full jitter: resends from many relays do not arrive in lock-step.
        return random.uniform(0, ceiling)

    # --- scheduling -------------------------------------------------------------------------

    def schedule(self, envelope: Envelope, *, at: datetime, key: str) -> str:
        """Create (or fully update) the one-time Scheduler schedule ``key`` for ``envelope``."""
        scheduler = self.client("scheduler")
        definition = self.schedule_definition(envelope, at=at, key=key)
        # The same event id gives the same token: a retried create is not a second schedule.
        token = envelope.id
        try:
            scheduler.create_schedule(**definition, ClientToken=token)
        except ClientError as error:
            if error_code(error) != "ConflictException":
                raise
            # update_schedule resets every field it is not given, so send them all.
            scheduler.update_schedule(**definition, ClientToken=token)
            logger.info("schedule %s moved to %s", key, definition["ScheduleExpression"])
        else:
            logger.info("schedule %s created for %s", key, definition["ScheduleExpression"])
        return key

    def schedule_definition(self, envelope: Envelope, *, at: datetime, key: str) -> dict[str, Any]:
        """The full definition of schedule ``key`` (what create and update both send)."""
        return {
            "Name": key,
            "GroupName": self.schedule_group,
            "Description": f"{envelope.detail_type} {envelope.id}",
            "ScheduleExpression": at_expression(at),
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "ActionAfterCompletion": "DELETE",
            "Target": {
                "Arn": self.bus_arn(),
                "RoleArn": self.scheduler_role_arn(),
                # Scheduler's target input is the event's detail: the same as PutEvents'.
                "Input": self.entry(envelope)["Detail"],
                "EventBridgeParameters": {
                    "DetailType": envelope.detail_type,
                    "Source": envelope.source,
                },
                "RetryPolicy": SCHEDULE_RETRY_POLICY,
                "DeadLetterConfig": {"Arn": self.schedules_dead_letter_queue_arn()},
            },
        }

    def cancel_schedule(self, key: str) -> None:
        try:
            self.client("scheduler").delete_schedule(Name=key, GroupName=self.schedule_group)
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
            logger.info("schedule %s already gone", key)

    # --- redelivery and health --------------------------------------------------------------

    def redeliver(self, subscription_name: str, envelope: Envelope) -> None:
        """Put ``envelope`` on the subscription's queue again (dead-letter replay)."""
        self.client("sqs").send_message(
            QueueUrl=self.queue_url(subscription_name), MessageBody=envelope.to_json()
        )

    def check(self) -> None:
        self.client("events").describe_event_bus(Name=self.bus_name)

    # --- resource addresses -----------------------------------------------------------------

    def bus_arn(self) -> str:
        """The bus ARN, asked once: it also tells the account, region and partition."""
        if self._bus_arn is None:
            arn = self.client("events").describe_event_bus(Name=self.bus_name)["Arn"]
            with self._lock:
                self._bus_arn = arn
        return self._bus_arn

    def scheduler_role_arn(self) -> str:
        """``SCHEDULER_ROLE_ARN``, or the role ``provision_eventbridge --create-role`` makes."""
        if self._scheduler_role_arn:
            return self._scheduler_role_arn
        partition, _region, account = _arn_parts(self.bus_arn())
        return f"arn:{partition}:iam::{account}:role/{self.names.scheduler_role}"

    def schedules_dead_letter_queue_arn(self) -> str:
        partition, region, account = _arn_parts(self.bus_arn())
        return f"arn:{partition}:sqs:{region}:{account}:{self.names.schedules_dead_letter_queue}"

    def queue_url(self, subscription_name: str) -> str:
        url = self._queue_urls.get(subscription_name)
        if url is None:
            name = self.names.queue(subscription_name)
            url = self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
            with self._lock:
                self._queue_urls[subscription_name] = url
        return url


def eventbridge_backend() -> EventBridgeBackend:
    """The configured backend, which the AWS tools (provisioning, the SQS consumer, the
    development schedule firer) need to be the EventBridge one."""
    backend = get_backend()
    if not isinstance(backend, EventBridgeBackend):
        raise ImproperlyConfigured(
            f"this needs EVENT_BUS_BACKEND=eventbridge; the bus is {backend.label}"
        )
    return backend
