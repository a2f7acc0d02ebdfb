"""The CloudFormation template against provisioning and moto: it describes the resources
``provision_eventbridge --dry-run`` plans (same names, patterns, queue attributes, targets,
role), and deployed on moto's CloudFormation it carries add-to-cart end to end.

moto's CloudFormation (5.2.5) cannot create AWS::SQS::QueuePolicy,
AWS::Scheduler::ScheduleGroup, AWS::EventSchemas::Registry or AWS::EventSchemas::Schema: the
deploy leaves those out (moto enforces no queue policy anyway, and add-to-cart schedules
nothing for a guest without an address), and the comparison checks them instead. moto has
no Schemas API at all, so the comparison's dry run plans the registry against an in-memory
one (tests/eventbus/schemas_service.py) and everything else against moto.
"""

from __future__ import annotations

import json
import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from eventbus.aws.cloudformation import template
from eventbus.aws.provisioning import CHANGED, CREATED, KEPT, SKIPPED
from eventbus.backend import get_backend
from eventbus.subscriptions import all_subscriptions, matching_subscriptions
from tests.eventbus.schemas_service import SchemasService
from tests.integration.moto_server import BUS_NAME, QUEUE_PREFIX, REGION, SCHEDULE_GROUP

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

STACK = "event-shop"
# What moto's CloudFormation cannot create (it warns and skips, leaving references broken).
NOT_IN_MOTO = frozenset(
    {
        "AWS::SQS::QueuePolicy",
        "AWS::Scheduler::ScheduleGroup",
        "AWS::EventSchemas::Registry",
        "AWS::EventSchemas::Schema",
    }
)
# In the template only: provisioning does not create the processes' managed policies
# (docs/aws.md leaves those to the operator).
TEMPLATE_ONLY = frozenset({"AWS::IAM::ManagedPolicy"})


class Stack:
    """The template's resources with its intrinsic functions worked out, as CloudFormation
    would for one account and region with the parameters' defaults."""

    NAME_PROPERTY = {
        "AWS::SQS::Queue": "QueueName",
        "AWS::Events::EventBus": "Name",
        "AWS::Events::Rule": "Name",
        "AWS::IAM::Role": "RoleName",
        "AWS::Scheduler::ScheduleGroup": "Name",
        "AWS::Events::Archive": "ArchiveName",
        "AWS::EventSchemas::Registry": "RegistryName",
    }

    def __init__(self, document: dict[str, Any], *, account: str, region: str) -> None:
        self.resources = document["Resources"]
        self.account, self.region = account, region
        self.names = {
            "AWS::AccountId": account,
            "AWS::Region": region,
            "AWS::Partition": "aws",
            **{key: value["Default"] for key, value in document["Parameters"].items()},
        }

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Ref"}:
            return self.ref(node["Ref"])
        if set(node) == {"Fn::Sub"}:
            return re.sub(r"\$\{([^}]+)\}", lambda found: str(self.ref(found[1])), node["Fn::Sub"])
        if set(node) == {"Fn::GetAtt"}:
            logical, attribute = node["Fn::GetAtt"]
            assert attribute in ("Arn", "Name", "RegistryName"), attribute
            return self.arn(logical) if attribute == "Arn" else self.name(logical)
        return {key: self.value(item) for key, item in node.items()}

    def ref(self, name: str) -> Any:
        if name in self.names:
            return self.names[name]
        if self.resources[name]["Type"] == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self.name(name)}"
        return self.name(name)

    def name(self, logical: str) -> str:
        resource = self.resources[logical]
        return self.value(resource["Properties"][self.NAME_PROPERTY[resource["Type"]]])

    def arn(self, logical: str) -> str:
        kind, name = self.resources[logical]["Type"], self.name(logical)
        prefix = f"arn:aws:{{}}:{self.region}:{self.account}"
        if kind == "AWS::SQS::Queue":
            return f"{prefix.format('sqs')}:{name}"
        if kind == "AWS::Events::EventBus":
            return f"{prefix.format('events')}:event-bus/{name}"
        if kind == "AWS::Events::Rule":
            bus = self.value(self.resources[logical]["Properties"]["EventBusName"])
            return f"{prefix.format('events')}:rule/{bus}/{name}"
        if kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{self.account}:role/{name}"
        raise AssertionError(f"no ARN for {kind}")

    def of_type(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (logical, self.value(resource["Properties"]))
            for logical, resource in self.resources.items()
            if resource["Type"] == kind
        ]

    def as_provisioning_plans_it(self) -> dict[tuple[str, str], Any]:
        """The template's resources in the shape of provisioning's ``desired``."""
        plan: dict[tuple[str, str], Any] = {}
        [(_, bus)] = self.of_type("AWS::Events::EventBus")
        plan["event bus", bus["Name"]] = {"Name": bus["Name"]}
        [(_, group)] = self.of_type("AWS::Scheduler::ScheduleGroup")
        plan["schedule group", group["Name"]] = {"Name": group["Name"]}
        [(_, archive)] = self.of_type("AWS::Events::Archive")
        plan["archive", archive["ArchiveName"]] = {
            "ArchiveName": archive["ArchiveName"],
            "EventSourceArn": archive.pop("SourceArn"),
            **archive,
        }
        [(_, registry)] = self.of_type("AWS::EventSchemas::Registry")
        plan["schema registry", registry["RegistryName"]] = registry
        for _, schema in self.of_type("AWS::EventSchemas::Schema"):
            plan["schema", f"{schema['RegistryName']}/{schema['SchemaName']}"] = schema
        policies = {
            url: properties["PolicyDocument"]
            for _, properties in self.of_type("AWS::SQS::QueuePolicy")
            for url in properties["Queues"]
        }
        for logical, queue in self.of_type("AWS::SQS::Queue"):
            name = queue.pop("QueueName")
            if self.ref(logical) in policies:
                queue["Policy"] = policies[self.ref(logical)]
            plan["queue", name] = {"QueueName": name, "Attributes": _attributes(queue)}
        for _, rule in self.of_type("AWS::Events::Rule"):
            [target] = rule.pop("Targets")
            plan["rule", rule["Name"]] = rule
            plan["rule target", rule["Name"]] = {
                "Rule": rule["Name"],
                "EventBusName": rule["EventBusName"],
                **target,
            }
        [(_, role)] = self.of_type("AWS::IAM::Role")
        plan["IAM role", role["RoleName"]] = {
            "RoleName": role["RoleName"],
            "AssumeRolePolicyDocument": role["AssumeRolePolicyDocument"],
        }
        for policy in role["Policies"]:
            plan["IAM policy", f"{role['RoleName']}/{policy['PolicyName']}"] = {
                "RoleName": role["RoleName"],
                **policy,
            }
        return plan


def _attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """Queue attributes as values to compare: documents parsed, numbers as strings."""
    return {
        key: (json.loads(value) if key in ("Policy", "RedrivePolicy") else str(value))
        if isinstance(value, str | int)
        else value
        for key, value in attributes.items()
    }


def dry_run(*arguments: str) -> list[dict[str, Any]]:
    out = StringIO()
    call_command("provision_eventbridge", "--dry-run", "--json", *arguments, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def schemas_api(aws, monkeypatch) -> SchemasService:
    """The backend's ``schemas`` client answered by an in-memory Schemas API (moto has
    none); every other service is moto's."""
    service = SchemasService()
    schemas = service.client(region=REGION)
    backend = get_backend()
    client = backend.client
    monkeypatch.setattr(
        backend, "client", lambda name, **options: schemas if name == "schemas" else client(name)
    )
    return service


def test_the_template_and_the_dry_run_describe_the_same_resources(aws, schemas_api):
    plan = dry_run("--create-role")
    assert {action["outcome"] for action in plan} == {CREATED}  # an empty account
    planned = {
        (action["resource"], action["name"]): (
            {**action["desired"], "Attributes": _attributes(action["desired"]["Attributes"])}
            if action["resource"] == "queue"
            else action["desired"]
        )
        for action in plan
    }
    sts = aws.client("sts").get_caller_identity()
    document = template(schemas=True)
    stack = Stack(document, account=sts["Account"], region=aws.client("events").meta.region_name)

    described = stack.as_provisioning_plans_it()

    assert sorted(described) == sorted(planned)
    for key, desired in planned.items():
        assert described[key] == desired, key
    # Spelled out, the parts that matter most:
    for subscription in all_subscriptions():
        assert planned["rule", subscription.name]["EventPattern"] == subscription.pattern
        attributes = planned["queue", f"{QUEUE_PREFIX}-{subscription.name}"]["Attributes"]
        assert attributes["RedrivePolicy"]["maxReceiveCount"] == 3  # the bus's attempt limit
    left = {resource["Type"] for resource in document["Resources"].values()}
    compared = {"AWS::Events::EventBus", "AWS::Scheduler::ScheduleGroup", "AWS::SQS::Queue"}
    compared |= {"AWS::SQS::QueuePolicy", "AWS::Events::Rule", "AWS::IAM::Role"}
    compared |= {"AWS::Events::Archive", "AWS::EventSchemas::Registry"}
    compared |= {"AWS::EventSchemas::Schema"}
    assert left - compared == TEMPLATE_ONLY
    assert schemas_api.writes() == []  # a dry run


def moto_template() -> dict[str, Any]:
    """The template without the resource types moto cannot create, nor what refers to them."""
    document = template()
    dropped = {
        logical
        for logical, resource in document["Resources"].items()
        if resource["Type"] in NOT_IN_MOTO
    }
    assert dropped
    document["Resources"] = {
        logical: resource
        for logical, resource in document["Resources"].items()
        if logical not in dropped
    }
    text = json.dumps(document["Resources"])
    for logical in dropped:
        assert f'"{logical}"' not in text, f"{logical} is still referred to"
    document["Outputs"] = {
        key: output
        for key, output in document["Outputs"].items()
        if not any(f'"{logical}"' in json.dumps(output) for logical in dropped)
    }
    return document


@pytest.fixture
def deployed(aws):
    """The template deployed as a stack on moto's CloudFormation, with the test's names."""
    cloudformation = aws.client("cloudformation")
    cloudformation.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(moto_template()),
        Parameters=[
            {"ParameterKey": "BusName", "ParameterValue": BUS_NAME},
            {"ParameterKey": "QueuePrefix", "ParameterValue": QUEUE_PREFIX},
            {"ParameterKey": "ScheduleGroupName", "ParameterValue": SCHEDULE_GROUP},
        ],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName=STACK, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    [stack] = cloudformation.describe_stacks(StackName=STACK)["Stacks"]
    aws.outputs = {item["OutputKey"]: item["OutputValue"] for item in stack["Outputs"]}
    return aws


def test_deployed_on_moto_it_carries_add_to_cart_end_to_end(
    require_postgres, deployed, catalog, api_client
):
    outputs = deployed.outputs
    assert outputs["EventBusName"] == BUS_NAME
    # moto's stack answers AWS's URL; its server, its own address: the same account and queue.
    queue_path = f"/{deployed.queue_url(f'{QUEUE_PREFIX}-cart-projection').split('/', 3)[3]}"
    assert outputs["CartProjectionQueueUrl"].endswith(queue_path)
    assert outputs["SchedulerRoleArn"].endswith(f":role/{QUEUE_PREFIX}-scheduler")

    # Provisioning finds the stack's resources as it would have made them: all kept, but
    # for what moto's CloudFormation could not create (queue policies, the schedule group)
    # and the schema registry, which moto has no API for.
    # Not the role: moto answers GetRolePolicy for a policy CloudFormation made with a Python
    # repr instead of JSON; the role is compared in the test above, and is there:
    role = deployed.client("iam").get_role(RoleName=f"{QUEUE_PREFIX}-scheduler")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "scheduler.amazonaws.com"
    }
    plan = dry_run()
    different = {
        (action["resource"], action["name"], action["outcome"], action["note"])
        for action in plan
        if action["outcome"] not in (KEPT, SKIPPED)
    }
    assert {(item["resource"], item["outcome"]) for item in plan} >= {
        ("archive", KEPT),  # the stack's archive is the one provisioning would make
        ("schema registry", SKIPPED),
    }
    subscription_queues = {
        f"{QUEUE_PREFIX}-{item.name}{suffix}"
        for item in all_subscriptions()
        for suffix in ("", "-dlq")
    }
    assert different == {("queue", name, CHANGED, "Policy") for name in subscription_queues} | {
        ("schedule group", SCHEDULE_GROUP, CREATED, "")
    }

    # The web process publishes (the relay after the request's commit), the rules route,
    # consume_events applies.
    response = api_client.post("/api/cart/items/", {"sku": "TEA-001", "quantity": 2}, format="json")
    assert response.status_code == 202
    event_id = response.json()["event_id"]
    from eventbus.models import OutboxEvent

    envelope = OutboxEvent.objects.get(pk=event_id).envelope
    for subscription in matching_subscriptions(envelope):
        assert deployed.queue_depth(f"{QUEUE_PREFIX}-{subscription.name}") == 1

    call_command("consume_events", "--once", "--wait-seconds", "1")

    cart = api_client.get("/api/cart/").json()
    assert [(line["sku"], line["quantity"]) for line in cart["lines"]] == [("TEA-001", 2)]
    assert cart["last_event_id"] == event_id
    assert deployed.queue_depth(f"{QUEUE_PREFIX}-cart-projection") == 0
