"""Idempotent provisioning of the EventBridge backend's AWS resources from the code's
subscriptions and events: bus and its archive, rules, queues with dead-letter queues,
schedule group, Scheduler role, and the schema registry with a schema per event version.

Each resource is compared with what it should be and only created or changed when it
differs, so running it again changes nothing; ``dry_run`` reports the plan without acting.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from eventbus.aws.backend import EventBridgeBackend, error_code, eventbridge_backend
from eventbus.aws.clients import partition_of
from eventbus.aws.schema_registry import (
    REGISTRY_DESCRIPTION,
    SCHEMA_TYPE,
    RegistrySchema,
    registry_schemas,
    schemas_service_missing,
)
from eventbus.failures import max_attempts
from eventbus.subscriptions import Subscription, all_subscriptions

logger = logging.getLogger(__name__)

CREATED, CHANGED, KEPT, DELETED, ORPHANED = "created", "changed", "kept", "deleted", "orphaned"
# Not made, for a reason the note gives (the endpoint has no Schemas API): not a change.
SKIPPED = "skipped"

# Messages a consumer has not deleted come back after this; longer than any handler runs.
QUEUE_VISIBILITY_TIMEOUT_SECONDS = 60
# Dead letters wait for an operator for SQS's longest retention.
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600
# EventBridge's retries of a delivery to the queue before the target's dead-letter queue.
TARGET_RETRY_POLICY = {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
TARGET_ID = "subscription-queue"
ARCHIVE_DESCRIPTION = "Every event on the bus, for replay (StartReplay)."
SCHEDULER_POLICY_NAME = "publish-scheduled-events"
_MISSING_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
_MISSING = {"ResourceNotFoundException", "NoSuchEntity"}


@dataclass(frozen=True)
class Action:
    """What provisioning did (or, in a dry run, would do) to one resource."""

    resource: str
    name: str
    outcome: str
    note: str = ""
    # What the resource should be, as the AWS API takes it (the template comparison and
    # ``provision_eventbridge --json`` read it); empty for a rule no subscription owns.
    desired: dict[str, Any] = field(default_factory=dict, compare=False)


def _policy_document(value: Any) -> Any:
    """A policy as a dict, whether AWS returned it parsed, as JSON, or URL-encoded JSON."""
    if isinstance(value, str):
        text = value if value.lstrip().startswith("{") else unquote(value)
        return json.loads(text)
    return value


def _same_queue_attribute(name: str, current: str | None, wanted: str) -> bool:
    if current is None:
        return False
    if name in ("Policy", "RedrivePolicy"):
        try:
            current_document = json.loads(current)
        except ValueError:
            return False
        wanted_document = json.loads(wanted)
        if name == "RedrivePolicy":  # maxReceiveCount comes back as a string or a number
            return {k: str(v) for k, v in current_document.items()} == {
                k: str(v) for k, v in wanted_document.items()
            }
        return current_document == wanted_document
    return str(current) == wanted


# The documents below take their ARNs as arguments, so that the CloudFormation template
# (eventbus/aws/cloudformation.py) builds the same ones from intrinsic functions.


def queue_policy(queue_arn: Any, rule_arn: Any) -> dict[str, Any]:
    """A subscription queue's (or its DLQ's) resource policy: only its rule may send."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowEventBridgeRule",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }


def scheduler_trust_policy(account: Any) -> dict[str, Any]:
    """Who may assume the Scheduler role: EventBridge Scheduler, for this account only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            }
        ],
    }


def scheduler_permissions(bus_arn: Any, schedules_dead_letter_arn: Any) -> dict[str, Any]:
    """What Scheduler may do with the role: put the event on the bus, dead-letter it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus_arn},
            {
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": schedules_dead_letter_arn,
            },
        ],
    }


def redrive_policy(dead_letter_arn: Any) -> dict[str, Any]:
    """After the bus's attempt limit of receives, SQS moves a message to the DLQ."""
    return {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": max_attempts()}


def rule_target(queue_arn: Any, dead_letter_arn: Any) -> dict[str, Any]:
    """A rule's one target: the subscription's queue, with retries and a DLQ."""
    return {
        "Id": TARGET_ID,
        "Arn": queue_arn,
        "RetryPolicy": TARGET_RETRY_POLICY,
        "DeadLetterConfig": {"Arn": dead_letter_arn},
    }


def _allow_rule_to_send(queue_arn: str, rule_arn: str) -> str:
    return json.dumps(queue_policy(queue_arn, rule_arn), sort_keys=True)


class Provisioner:
    """Brings the AWS resources in line with the subscriptions in code."""

    def __init__(
        self,
        *,
        dry_run: bool = False,
        prune: bool = False,
        create_role: bool = False,
        subscriptions: Iterable[Subscription] | None = None,
        backend: EventBridgeBackend | None = None,
        schemas: Iterable[RegistrySchema] | None = None,
        schemas_client: Any = None,
    ) -> None:
        self.backend = backend or eventbridge_backend()
        self.dry_run = dry_run
        self.prune = prune
        self.create_role = create_role
        self.subscriptions = list(all_subscriptions() if subscriptions is None else subscriptions)
        self.registry_schemas = list(registry_schemas() if schemas is None else schemas)
        self.names = self.backend.names
        self.events = self.backend.client("events")
        self.sqs = self.backend.client("sqs")
        self.scheduler = self.backend.client("scheduler")
        self.schemas = schemas_client or self.backend.client("schemas")
        # Whether the endpoint serves the Schemas API is asked once, without retries: an
        # endpoint without it (moto) answers 500, which botocore would otherwise retry.
        self._schemas_probe = schemas_client or self.backend.client("schemas", attempts=1)
        self.region = self.events.meta.region_name
        self.partition = partition_of(self.region)
        self.account = self.backend.client("sts").get_caller_identity()["Account"]
        self.actions: list[Action] = []

    # --- addresses (computed, so a dry run can plan resources that do not exist yet) ------

    def _arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:{self.partition}:{service}:{region}:{self.account}:{resource}"

    @property
    def bus_arn(self) -> str:
        return self._arn("events", f"event-bus/{self.names.bus_name}")

    def rule_arn(self, rule_name: str) -> str:
        bus = "" if self.names.bus_name == "default" else f"{self.names.bus_name}/"
        return self._arn("events", f"rule/{bus}{rule_name}")

    def queue_arn(self, queue_name: str) -> str:
        return self._arn("sqs", queue_name)

    # --- the run ----------------------------------------------------------------------------

    def archive_arn(self) -> str:
        return self._arn("events", f"archive/{self.names.archive}")

    def run(self) -> list[Action]:
        self._ensure_bus()
        self._ensure_archive()
        self._ensure_queue(
            self.names.schedules_dead_letter_queue,
            {"MessageRetentionPeriod": str(DEAD_LETTER_RETENTION_SECONDS)},
            note="dead letters of schedules",
        )
        self._ensure_schedule_group()
        for subscription in self.subscriptions:
            self._ensure_subscription(subscription)
        self._handle_orphaned_rules()
        if self.create_role:
            self._ensure_scheduler_role()
        self._ensure_schema_registry()
        return self.actions

    def _record(
        self,
        resource: str,
        name: str,
        outcome: str,
        note: str = "",
        desired: dict[str, Any] | None = None,
    ) -> None:
        self.actions.append(Action(resource, name, outcome, note, desired or {}))
        if outcome not in (KEPT, ORPHANED) and not self.dry_run:
            logger.info("%s %s: %s %s", resource, name, outcome, note)

    def _ensure_archive(self) -> None:
        """The bus's archive: every event, kept ``archive_retention_days``, for replays."""
        name = self.names.archive
        wanted = {
            "Description": ARCHIVE_DESCRIPTION,
            "RetentionDays": self.backend.archive_retention_days,
        }
        desired = {"ArchiveName": name, "EventSourceArn": self.bus_arn, **wanted}
        try:
            current = self.events.describe_archive(ArchiveName=name)
        except ClientError as error:
            if error_code(error) not in _MISSING:
                raise
            if not self.dry_run:
                self.events.create_archive(**desired)
            self._record("archive", name, CREATED, f"of {self.names.bus_name}", desired)
            return
        if current.get("EventSourceArn") != self.bus_arn:
            # An archive's source cannot be changed; replacing it would lose its events.
            raise RuntimeError(
                f"archive {name} archives {current.get('EventSourceArn')}, not the bus "
                f"{self.bus_arn}: rename or delete it by hand"
            )
        differing = sorted(
            key
            for key, value in wanted.items()
            if str(current.get(key) if current.get(key) is not None else "") != str(value)
        )
        if differing and not self.dry_run:
            self.events.update_archive(ArchiveName=name, **wanted)
        outcome = CHANGED if differing else KEPT
        note = ", ".join(differing) if differing else f"of {self.names.bus_name}"
        self._record("archive", name, outcome, note, desired)

    def _ensure_schema_registry(self) -> None:
        """The registry and one schema per event type and version; skipped, with the reason,
        where the endpoint has no Schemas API."""
        name = self.names.schema_registry
        desired = {"RegistryName": name, "Description": REGISTRY_DESCRIPTION}
        missing = schemas_service_missing(self._schemas_probe)
        if missing:
            self._record(
                "schema registry",
                name,
                SKIPPED,
                f"{missing}: the registry and its {len(self.registry_schemas)} schemas were "
                "not made (moto has no Schemas API; eventbridge_template carries them)",
                desired,
            )
            return
        try:
            current = self.schemas.describe_registry(RegistryName=name)
        except ClientError as error:
            if error_code(error) != "NotFoundException":
                raise
            if not self.dry_run:
                self.schemas.create_registry(**desired)
            self._record("schema registry", name, CREATED, "", desired)
            existing: set[str] = set()
        else:
            same = (current.get("Description") or "") == REGISTRY_DESCRIPTION
            if not same and not self.dry_run:
                self.schemas.update_registry(**desired)
            self._record(
                "schema registry",
                name,
                KEPT if same else CHANGED,
                "" if same else "Description",
                desired,
            )
            existing = self._existing_schema_names(name)
        for schema in self.registry_schemas:
            self._ensure_schema(name, schema, exists=schema.name in existing)
        wanted = {schema.name for schema in self.registry_schemas}
        for orphan in sorted(existing - wanted):
            self._record(
                "schema",
                f"{name}/{orphan}",
                ORPHANED,
                "no event type in the code has it; kept (archived events may have its shape)",
            )

    def _existing_schema_names(self, registry: str) -> set[str]:
        names: set[str] = set()
        request: dict[str, Any] = {"RegistryName": registry}
        while True:
            page = self.schemas.list_schemas(**request)
            names |= {item["SchemaName"] for item in page.get("Schemas", [])}
            if not page.get("NextToken"):
                return names
            request["NextToken"] = page["NextToken"]

    def _ensure_schema(self, registry: str, schema: RegistrySchema, *, exists: bool) -> None:
        desired = {
            "RegistryName": registry,
            "SchemaName": schema.name,
            "Type": SCHEMA_TYPE,
            "Description": schema.description,
            "Content": schema.content,
        }
        label = f"{registry}/{schema.name}"
        if not exists:
            if not self.dry_run:
                self.schemas.create_schema(**desired)
            self._record("schema", label, CREATED, schema.description, desired)
            return
        # The latest version of the schema; an update makes a new version of it.
        current = self.schemas.describe_schema(RegistryName=registry, SchemaName=schema.name)
        differing = []
        if current.get("Type") != SCHEMA_TYPE:
            differing.append("Type")
        if (current.get("Description") or "") != schema.description:
            differing.append("Description")
        try:
            same_content = json.loads(current.get("Content") or "null") == schema.document
        except ValueError:
            same_content = False
        if not same_content:
            differing.append("Content")
        if differing and not self.dry_run:
            self.schemas.update_schema(**desired)
        note = ", ".join(differing) if differing else f"version {current.get('SchemaVersion')}"
        self._record("schema", label, CHANGED if differing else KEPT, note, desired)

    def _ensure_bus(self) -> None:
        try:
            self.events.describe_event_bus(Name=self.names.bus_name)
        except ClientError as error:
            if error_code(error) not in _MISSING:
                raise
            if not self.dry_run:
                self.events.create_event_bus(Name=self.names.bus_name)
            outcome = CREATED
        else:
            outcome = KEPT
        self._record(
            "event bus", self.names.bus_name, outcome, desired={"Name": self.names.bus_name}
        )

    def _queue_url(self, name: str) -> str | None:
        try:
            return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError as error:
            if error_code(error) not in _MISSING_QUEUE:
                raise
            return None

    def _ensure_queue(self, name: str, attributes: dict[str, str], *, note: str = "") -> None:
        desired = {"QueueName": name, "Attributes": attributes}
        url = self._queue_url(name)
        if url is None:
            if not self.dry_run:
                self.sqs.create_queue(QueueName=name, Attributes=attributes)
            self._record("queue", name, CREATED, note, desired)
            return
        current = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        current = current.get("Attributes", {})
        differing = {
            key: value
            for key, value in attributes.items()
            if not _same_queue_attribute(key, current.get(key), value)
        }
        if differing:
            if not self.dry_run:
                self.sqs.set_queue_attributes(QueueUrl=url, Attributes=differing)
            self._record("queue", name, CHANGED, ", ".join(sorted(differing)), desired)
        else:
            self._record("queue", name, KEPT, note, desired)

    def _ensure_schedule_group(self) -> None:
        name = self.names.schedule_group
        try:
            self.scheduler.get_schedule_group(Name=name)
        except ClientError as error:
            if error_code(error) not in _MISSING:
                raise
            if not self.dry_run:
                self.scheduler.create_schedule_group(Name=name)
            outcome = CREATED
        else:
            outcome = KEPT
        self._record("schedule group", name, outcome, desired={"Name": name})

    def _ensure_subscription(self, subscription: Subscription) -> None:
        rule_name = self.names.rule(subscription.name)
        rule_arn = self.rule_arn(rule_name)
        queue_name = self.names.queue(subscription.name)
        dead_letter_name = self.names.dead_letter_queue(subscription.name)
        queue_arn = self.queue_arn(queue_name)
        dead_letter_arn = self.queue_arn(dead_letter_name)
        # The dead-letter queue takes messages from two senders: SQS's redrive (no policy
        # needed) and the rule target's dead-letter config (EventBridge, needs the policy).
        self._ensure_queue(
            dead_letter_name,
            {
                "MessageRetentionPeriod": str(DEAD_LETTER_RETENTION_SECONDS),
                "Policy": _allow_rule_to_send(dead_letter_arn, rule_arn),
            },
            note=f"dead letters of {subscription.name}",
        )
        self._ensure_queue(
            queue_name,
            {
                "VisibilityTimeout": str(QUEUE_VISIBILITY_TIMEOUT_SECONDS),
                "RedrivePolicy": json.dumps(redrive_policy(dead_letter_arn)),
                "Policy": _allow_rule_to_send(queue_arn, rule_arn),
            },
            note=subscription.name,
        )
        rule_outcome = self._ensure_rule(rule_name, subscription)
        self._ensure_target(
            rule_name,
            queue_arn=queue_arn,
            dead_letter_arn=dead_letter_arn,
            rule_is_new=rule_outcome == CREATED,
        )

    def _ensure_rule(self, rule_name: str, subscription: Subscription) -> str:
        wanted = {
            "EventPattern": json.dumps(subscription.pattern, sort_keys=True),
            "State": "ENABLED",
            "Description": subscription.description[:512],
        }
        try:
            current = self.events.describe_rule(Name=rule_name, EventBusName=self.names.bus_name)
        except ClientError as error:
            if error_code(error) not in _MISSING:
                raise
            outcome = CREATED
        else:
            same = (
                json.loads(current.get("EventPattern") or "null") == subscription.pattern
                and current.get("State") == "ENABLED"
                and (current.get("Description") or "") == wanted["Description"]
            )
            outcome = KEPT if same else CHANGED
        if outcome != KEPT and not self.dry_run:
            self.events.put_rule(Name=rule_name, EventBusName=self.names.bus_name, **wanted)
        desired = {
            "Name": rule_name,
            "EventBusName": self.names.bus_name,
            **wanted,
            "EventPattern": subscription.pattern,
        }
        self._record("rule", rule_name, outcome, wanted["EventPattern"], desired)
        return outcome

    def _ensure_target(
        self, rule_name: str, *, queue_arn: str, dead_letter_arn: str, rule_is_new: bool
    ) -> None:
        wanted = rule_target(queue_arn, dead_letter_arn)
        targets = []
        if not rule_is_new:
            targets = self.events.list_targets_by_rule(
                Rule=rule_name, EventBusName=self.names.bus_name
            )["Targets"]
        current = next((item for item in targets if item.get("Id") == TARGET_ID), None)
        if current is None:
            outcome = CREATED
        elif all(current.get(key) == value for key, value in wanted.items()):
            outcome = KEPT
        else:
            outcome = CHANGED
        if outcome != KEPT and not self.dry_run:
            response = self.events.put_targets(
                Rule=rule_name, EventBusName=self.names.bus_name, Targets=[wanted]
            )
            if response.get("FailedEntryCount"):
                raise RuntimeError(f"put_targets on {rule_name}: {response['FailedEntries']}")
        self._record(
            "rule target",
            rule_name,
            outcome,
            f"-> {queue_arn.rsplit(':', 1)[-1]}",
            {"Rule": rule_name, "EventBusName": self.names.bus_name, **wanted},
        )

    def _existing_rule_names(self) -> list[str]:
        names: list[str] = []
        request: dict[str, Any] = {"EventBusName": self.names.bus_name}
        while True:
            try:
                page = self.events.list_rules(**request)
            except ClientError as error:
                if error_code(error) in _MISSING:  # no bus yet (dry run): no rules either
                    return names
                raise
            # A rule another AWS service manages (the archive's "Events-Archive-<name>") is
            # not ours to report or prune.
            names += [rule["Name"] for rule in page.get("Rules", []) if not rule.get("ManagedBy")]
            if not page.get("NextToken"):
                return names
            request["NextToken"] = page["NextToken"]

    def _handle_orphaned_rules(self) -> None:
        wanted = {self.names.rule(item.name) for item in self.subscriptions}
        for rule_name in sorted(set(self._existing_rule_names()) - wanted):
            if not self.prune:
                self._record("rule", rule_name, ORPHANED, "no subscription; --prune deletes it")
                continue
            if not self.dry_run:
                targets = self.events.list_targets_by_rule(
                    Rule=rule_name, EventBusName=self.names.bus_name
                )["Targets"]
                if targets:
                    self.events.remove_targets(
                        Rule=rule_name,
                        EventBusName=self.names.bus_name,
                        Ids=[target["Id"] for target in targets],
                    )
                self.events.delete_rule(Name=rule_name, EventBusName=self.names.bus_name)
            self._record("rule", rule_name, DELETED, "its queues are kept (they may hold messages)")

    def _ensure_scheduler_role(self) -> None:
        iam = self.backend.client("iam")
        role_name = self.names.scheduler_role
        trust = scheduler_trust_policy(self.account)
        permissions = scheduler_permissions(
            self.bus_arn, self.queue_arn(self.names.schedules_dead_letter_queue)
        )
        role_desired = {"RoleName": role_name, "AssumeRolePolicyDocument": trust}
        try:
            role = iam.get_role(RoleName=role_name)["Role"]
        except ClientError as error:
            if error_code(error) not in _MISSING:
                raise
            if not self.dry_run:
                iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
            self._record(
                "IAM role", role_name, CREATED, "assumed by EventBridge Scheduler", role_desired
            )
        else:
            if _policy_document(role.get("AssumeRolePolicyDocument")) == trust:
                self._record(
                    "IAM role", role_name, KEPT, "assumed by EventBridge Scheduler", role_desired
                )
            else:
                if not self.dry_run:
                    iam.update_assume_role_policy(
                        RoleName=role_name, PolicyDocument=json.dumps(trust)
                    )
                self._record("IAM role", role_name, CHANGED, "trust policy", role_desired)
        try:
            current = iam.get_role_policy(RoleName=role_name, PolicyName=SCHEDULER_POLICY_NAME)
            same = _policy_document(current.get("PolicyDocument")) == permissions
        except ClientError as error:
            if error_code(error) not in _MISSING:
                raise
            current, same = None, False
        outcome = KEPT if same else (CREATED if current is None else CHANGED)
        if outcome != KEPT and not self.dry_run:
            iam.put_role_policy(
                RoleName=role_name,
                PolicyName=SCHEDULER_POLICY_NAME,
                PolicyDocument=json.dumps(permissions),
            )
        self._record(
            "IAM policy",
            f"{role_name}/{SCHEDULER_POLICY_NAME}",
            outcome,
            "events:PutEvents on the bus, sqs:SendMessage on the schedules DLQ",
            {
                "RoleName": role_name,
                "PolicyName": SCHEDULER_POLICY_NAME,
                "PolicyDocument": permissions,
            },
        )


def provision(
    *, dry_run: bool = False, prune: bool = False, create_role: bool = False
) -> list[Action]:
    """Provision (or with ``dry_run`` plan) every resource; returns what was done to each."""
    return Provisioner(dry_run=dry_run, prune=prune, create_role=create_role).run()
