"""provision_eventbridge against moto's server: idempotent, and each resource as the code says."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from eventbus.aws.provisioning import (
    CHANGED,
    CREATED,
    DELETED,
    KEPT,
    ORPHANED,
    SKIPPED,
    provision,
)
from eventbus.subscriptions import all_subscriptions
from eventbus.testing import temporary_subscription
from tests.integration.moto_server import BUS_NAME, QUEUE_PREFIX, SCHEDULE_GROUP

pytestmark = [pytest.mark.integration]


def provision_command(*arguments: str) -> str:
    out = StringIO()
    call_command("provision_eventbridge", *arguments, stdout=out)
    return out.getvalue()


def test_second_run_changes_nothing_and_resources_match_the_code(aws):
    subscriptions = list(all_subscriptions())
    assert subscriptions, "the project registers subscriptions"

    first = provision(create_role=True)
    # moto has no Schemas API: the registry is skipped (tests/integration/
    # test_eventbridge_schema_registry.py provisions it against one).
    assert {item.outcome for item in first if item.resource != "schema registry"} == {CREATED}
    second = provision(create_role=True)
    assert [(item.resource, item.name, item.outcome) for item in second] == [
        (item.resource, item.name, SKIPPED if item.outcome == SKIPPED else KEPT) for item in first
    ]

    events, sqs = aws.client("events"), aws.client("sqs")
    bus_arn = events.describe_event_bus(Name=BUS_NAME)["Arn"]
    rules = {
        rule["Name"]: rule
        for rule in events.list_rules(EventBusName=BUS_NAME)["Rules"]
        if not rule.get("ManagedBy")  # the archive's rule
    }
    assert set(rules) == {subscription.name for subscription in subscriptions}
    for subscription in subscriptions:
        rule = rules[subscription.name]
        assert json.loads(rule["EventPattern"]) == subscription.pattern
        assert rule["State"] == "ENABLED"

        queue_name = f"{QUEUE_PREFIX}-{subscription.name}"
        attributes = sqs.get_queue_attributes(
            QueueUrl=aws.queue_url(queue_name), AttributeNames=["All"]
        )["Attributes"]
        dead_letter_arn = sqs.get_queue_attributes(
            QueueUrl=aws.queue_url(f"{queue_name}-dlq"), AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == dead_letter_arn
        assert int(redrive["maxReceiveCount"]) == 3  # the bus's MAX_ATTEMPTS in this test

        policy = json.loads(attributes["Policy"])
        [statement] = policy["Statement"]
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert statement["Action"] == "sqs:SendMessage"
        assert statement["Resource"] == attributes["QueueArn"]
        assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == rule["Arn"]

        [target] = events.list_targets_by_rule(Rule=subscription.name, EventBusName=BUS_NAME)[
            "Targets"
        ]
        assert target["Arn"] == attributes["QueueArn"]
        assert target["DeadLetterConfig"] == {"Arn": dead_letter_arn}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0

    archive = events.describe_archive(ArchiveName=f"{BUS_NAME}-archive")
    assert archive["EventSourceArn"] == bus_arn
    assert int(archive["RetentionDays"]) == 30

    scheduler = aws.client("scheduler")
    assert scheduler.get_schedule_group(Name=SCHEDULE_GROUP)["Name"] == SCHEDULE_GROUP
    aws.queue_url(f"{QUEUE_PREFIX}-schedules-dlq")  # exists

    role = aws.client("iam").get_role(RoleName=f"{QUEUE_PREFIX}-scheduler")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    permissions = aws.client("iam").get_role_policy(
        RoleName=role["RoleName"], PolicyName="publish-scheduled-events"
    )["PolicyDocument"]
    permissions = json.loads(permissions) if isinstance(permissions, str) else permissions
    assert {"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus_arn} in permissions[
        "Statement"
    ]


def test_dry_run_plans_without_changing_anything(aws):
    output = provision_command("--dry-run")
    assert "event bus" in output and CREATED in output
    assert "nothing was changed" in output
    assert aws.client("events").list_event_buses(NamePrefix=BUS_NAME)["EventBuses"] == []
    assert aws.client("sqs").list_queues().get("QueueUrls", []) == []


def test_drift_is_repaired_and_reported_as_changed(aws):
    provision()
    subscription = next(iter(all_subscriptions()))
    aws.client("events").put_rule(
        Name=subscription.name,
        EventBusName=BUS_NAME,
        EventPattern=json.dumps({"source": ["somebody.else"]}),
    )
    queue_url = aws.queue_url(f"{QUEUE_PREFIX}-{subscription.name}")
    aws.client("sqs").set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": ""})

    outcomes = {(item.resource, item.name): item.outcome for item in provision()}

    assert outcomes[("rule", subscription.name)] == CHANGED
    assert outcomes[("queue", f"{QUEUE_PREFIX}-{subscription.name}")] == CHANGED
    rule = aws.client("events").describe_rule(Name=subscription.name, EventBusName=BUS_NAME)
    assert json.loads(rule["EventPattern"]) == subscription.pattern


def test_rules_of_removed_subscriptions_go_only_with_prune(aws):
    with temporary_subscription(name="retired-consumer", pattern={"source": ["shop.cart"]}):
        provision()
    events = aws.client("events")

    table = provision_command()
    assert "retired-consumer" in table and ORPHANED in table
    assert events.describe_rule(Name="retired-consumer", EventBusName=BUS_NAME)["Name"]

    outcomes = {(item.resource, item.name): item.outcome for item in provision(prune=True)}
    assert outcomes[("rule", "retired-consumer")] == DELETED
    names = [rule["Name"] for rule in events.list_rules(EventBusName=BUS_NAME)["Rules"]]
    assert "retired-consumer" not in names


def test_rules_that_aws_manages_are_not_orphans(provisioned):
    """The bus's archive (provisioning and the CloudFormation template make one) brings a
    rule that EventBridge manages; provisioning neither reports it nor prunes it."""
    events = provisioned.client("events")
    managed = [
        rule["Name"]
        for rule in events.list_rules(EventBusName=BUS_NAME)["Rules"]
        if rule.get("ManagedBy")
    ]
    assert managed == [f"Events-Archive-{BUS_NAME}-archive"], "moto, like EventBridge, adds it"

    actions = provision(prune=True)

    assert not [item for item in actions if item.name in managed]
    assert {item.outcome for item in actions} == {KEPT, SKIPPED}
    names = {rule["Name"] for rule in events.list_rules(EventBusName=BUS_NAME)["Rules"]}
    assert set(managed) <= names


def test_an_archive_that_drifted_is_brought_back(provisioned, settings):
    events = provisioned.client("events")
    events.update_archive(ArchiveName=f"{BUS_NAME}-archive", RetentionDays=3)

    outcomes = {(item.resource, item.name): item for item in provision()}

    action = outcomes[("archive", f"{BUS_NAME}-archive")]
    assert (action.outcome, action.note) == (CHANGED, "RetentionDays")
    assert int(events.describe_archive(ArchiveName=f"{BUS_NAME}-archive")["RetentionDays"]) == 30


def test_the_archive_keeps_events_as_long_as_configured(aws, settings):
    settings.EVENT_BUS = {
        **settings.EVENT_BUS,
        "OPTIONS": {**settings.EVENT_BUS["OPTIONS"], "archive_retention_days": 90},
    }
    provision()
    archive = aws.client("events").describe_archive(ArchiveName=f"{BUS_NAME}-archive")
    assert int(archive["RetentionDays"]) == 90
