"""``manage.py eventbridge_template``: a CloudFormation template that cfn-lint passes, with
one rule, queue and DLQ per subscription in code, names as parameters, and a schema per
event type and version. (tests/integration/test_eventbridge_template.py compares it with
provisioning and deploys it on moto.)"""

from __future__ import annotations

import json
from io import StringIO

import pytest
import yaml
from cfnlint.api import ManualArgs, lint
from django.core.management import call_command

from eventbus.aws.backend import ResourceNames
from eventbus.aws.cloudformation import logical_id, template
from eventbus.aws.schema_registry import schema_name
from eventbus.events import event_types
from eventbus.failures import max_attempts
from eventbus.subscriptions import all_subscriptions
from eventbus.testing import temporary_subscription

# Regions with every service the template uses, Scheduler and schemas included.
LINT_REGIONS = ["eu-west-1", "us-east-1"]


def render(*arguments: str) -> str:
    out = StringIO()
    call_command("eventbridge_template", *arguments, stdout=out)
    return out.getvalue()


def resources_of(document: dict, resource_type: str) -> dict[str, dict]:
    return {
        key: value["Properties"]
        for key, value in document["Resources"].items()
        if value["Type"] == resource_type
    }


@pytest.mark.parametrize("output", ["yaml", "json"])
def test_cfn_lint_passes(output):
    text = render("--format", output)
    matches = lint(text, config=ManualArgs(regions=LINT_REGIONS))
    assert [str(match) for match in matches] == []


def test_yaml_and_json_say_the_same():
    assert yaml.safe_load(render()) == json.loads(render("--format", "json"))


def test_cfn_lint_would_catch_a_broken_template():
    """The lint test can fail: a rule without its bus's reference is an error."""
    document = json.loads(render("--format", "json"))
    rule = next(iter(resources_of(document, "AWS::Events::Rule")))
    document["Resources"][rule]["Properties"]["Targets"][0]["Arn"] = {"Ref": "NoSuchThing"}
    assert lint(json.dumps(document), config=ManualArgs(regions=LINT_REGIONS))


def test_one_rule_queue_and_dead_letter_queue_per_subscription():
    document = template()
    subscriptions = list(all_subscriptions())
    rules = resources_of(document, "AWS::Events::Rule")
    queues = resources_of(document, "AWS::SQS::Queue")
    assert len(rules) == len(subscriptions)
    for subscription in subscriptions:
        base = logical_id(subscription.name)
        rule = rules[f"{base}Rule"]
        assert rule["Name"] == subscription.name
        assert rule["EventPattern"] == subscription.pattern
        assert rule["EventBusName"] == {"Fn::GetAtt": ["EventBus", "Name"]}
        [target] = rule["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [f"{base}Queue", "Arn"]}
        assert target["DeadLetterConfig"] == {
            "Arn": {"Fn::GetAtt": [f"{base}DeadLetterQueue", "Arn"]}
        }
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0

        queue = queues[f"{base}Queue"]
        assert queue["QueueName"] == {"Fn::Sub": f"${{QueuePrefix}}-{subscription.name}"}
        assert queue["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [f"{base}DeadLetterQueue", "Arn"]},
            "maxReceiveCount": max_attempts(),
        }
        dead_letters = queues[f"{base}DeadLetterQueue"]
        assert dead_letters["QueueName"] == {"Fn::Sub": f"${{QueuePrefix}}-{subscription.name}-dlq"}
        for policy_of in (f"{base}Queue", f"{base}DeadLetterQueue"):
            policy = document["Resources"][f"{policy_of}Policy"]["Properties"]
            assert policy["Queues"] == [{"Ref": policy_of}]
            [statement] = policy["PolicyDocument"]["Statement"]
            assert statement["Resource"] == {"Fn::GetAtt": [policy_of, "Arn"]}
            assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {
                "Fn::GetAtt": [f"{base}Rule", "Arn"]
            }
        assert f"{base}QueueUrl" in document["Outputs"]


def test_a_new_subscription_is_a_new_rule_and_queue():
    pattern = {"source": ["shop.cart"], "detail-type": ["CartCheckedOut"]}
    with temporary_subscription(name="order-analytics", pattern=pattern):
        document = template()
    assert document["Resources"]["OrderAnalyticsRule"]["Properties"]["EventPattern"] == pattern
    assert "OrderAnalyticsQueue" in document["Resources"]
    assert "OrderAnalyticsQueue" not in template()["Resources"]


def test_names_and_retention_are_parameters_defaulting_to_the_backends_names():
    document = template(names=ResourceNames("bus-x", "prefix-x", "group-x"))
    parameters = document["Parameters"]
    assert parameters["BusName"]["Default"] == "bus-x"
    assert parameters["QueuePrefix"]["Default"] == "prefix-x"
    assert parameters["ScheduleGroupName"]["Default"] == "group-x"
    assert parameters["ArchiveRetentionDays"]["Type"] == "Number"
    archive = document["Resources"]["EventBusArchive"]["Properties"]
    assert archive["RetentionDays"] == {"Ref": "ArchiveRetentionDays"}
    assert archive["SourceArn"] == {"Fn::GetAtt": ["EventBus", "Arn"]}
    assert document["Resources"]["ScheduleGroup"]["Properties"]["Name"] == {
        "Ref": "ScheduleGroupName"
    }
    assert document["Resources"]["SchedulerRole"]["Properties"]["RoleName"] == {
        "Fn::Sub": "${QueuePrefix}-scheduler"
    }
    for output in ("EventBusArn", "SchedulerRoleArn", "WebPolicyArn", "ConsumerPolicyArn"):
        assert output in document["Outputs"]


def test_the_process_policies_are_least_privilege():
    resources = template()["Resources"]
    queue_arns = [
        {"Fn::GetAtt": [f"{logical_id(item.name)}Queue", "Arn"]} for item in all_subscriptions()
    ]

    def statements(policy: str) -> dict[tuple[str, ...], object]:
        document = resources[policy]["Properties"]["PolicyDocument"]
        return {tuple(item["Action"]): item["Resource"] for item in document["Statement"]}

    bus = {"Fn::GetAtt": ["EventBus", "Arn"]}
    assert statements("RelayPolicy") == {("events:PutEvents", "events:DescribeEventBus"): bus}
    web = statements("WebPolicy")
    assert web[("sqs:GetQueueUrl", "sqs:SendMessage")] == queue_arns  # the queues, not sqs:*
    assert web[("events:PutEvents", "events:DescribeEventBus")] == bus
    consumer = statements("ConsumerPolicy")
    receive = (
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
    )
    assert consumer[receive] == queue_arns
    for policy in ("WebPolicy", "RelayPolicy", "ConsumerPolicy"):
        for resource in statements(policy).values():
            assert resource != "*"


def test_the_schema_registry_holds_each_event_type_and_version():
    document = template()
    schemas = resources_of(document, "AWS::EventSchemas::Schema")
    expected = {schema_name(item) for item in event_types(all_versions=True)}
    assert {item["SchemaName"] for item in schemas.values()} == expected
    assert "shop.notifications@CartReminderSent-v2" in expected
    assert "shop.notifications@CartReminderSent-v1" in expected
    sent_v2 = next(
        item for item in schemas.values() if item["SchemaName"].endswith("CartReminderSent-v2")
    )
    content = json.loads(sent_v2["Content"])
    assert content["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert content["properties"]["detail-type"]["enum"] == ["CartReminderSent"]
    assert "AWS::EventSchemas::Schema" not in json.dumps(template(schemas=False))
