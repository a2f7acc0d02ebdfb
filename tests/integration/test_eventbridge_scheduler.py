"""schedule()/cancel_schedule() on EventBridge Scheduler (moto's server over HTTP), and the
development-only firer that stands in for Scheduler, which moto never runs."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from django.core.management import CommandError, call_command

from eventbus.aws import clients as aws_clients
from eventbus.aws.backend import ENVELOPE_ID_KEY
from eventbus.aws.dev_scheduler import fire_due_schedules
from eventbus.aws.provisioning import provision
from eventbus.events import DomainEvent
from eventbus.scheduling import cancel_schedule, schedule
from eventbus.testing import temporary_subscription
from tests.integration.moto_server import BUS_NAME, QUEUE_PREFIX, SCHEDULE_GROUP

pytestmark = [pytest.mark.integration]

SUBSCRIPTION = "renewal-watcher"


@dataclass(frozen=True, kw_only=True)
class RenewalDue(DomainEvent):
    source = "tests.renewals"
    schema = {
        "type": "object",
        "properties": {"contract_id": {"type": "string"}, "step": {"type": "integer"}},
        "required": ["contract_id", "step"],
    }

    contract_id: str
    step: int


@pytest.fixture
def scheduler_stack(aws):
    with temporary_subscription(name=SUBSCRIPTION, pattern={"source": ["tests.renewals"]}):
        provision(create_role=True)
        yield aws


@pytest.fixture
def schedule_requests(scheduler_stack):
    """The parameters of every CreateSchedule/UpdateSchedule call, as botocore sends them."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        if model.name in ("CreateSchedule", "UpdateSchedule"):
            calls.append((model.name, dict(params)))

    client = aws_clients.client("scheduler")
    client.meta.events.register("provide-client-params.scheduler.*", record)
    yield calls
    client.meta.events.unregister("provide-client-params.scheduler.*", record)


def get_schedule(stack, name: str) -> dict[str, Any]:
    return stack.client("scheduler").get_schedule(Name=name, GroupName=SCHEDULE_GROUP)


def test_a_schedule_has_the_exact_definition(scheduler_stack, schedule_requests):
    contract = str(uuid.uuid4())
    due = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)

    name = schedule(RenewalDue(contract_id=contract, step=1), at=due, key=f"renewal-{contract}")

    item = get_schedule(scheduler_stack, name)
    assert item["ScheduleExpression"] == "at(2031-05-06T07:08:09)"
    assert item["ScheduleExpressionTimezone"] == "UTC"
    assert item["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert item["ActionAfterCompletion"] == "DELETE"
    target = item["Target"]
    events = scheduler_stack.client("events")
    assert target["Arn"] == events.describe_event_bus(Name=BUS_NAME)["Arn"]
    role = scheduler_stack.client("iam").get_role(RoleName=f"{QUEUE_PREFIX}-scheduler")["Role"]
    assert target["RoleArn"] == role["Arn"]
    assert target["EventBridgeParameters"] == {
        "DetailType": "RenewalDue",
        "Source": "tests.renewals",
    }
    detail = json.loads(target["Input"])
    assert {key: detail[key] for key in ("contract_id", "step")} == {
        "contract_id": contract,
        "step": 1,
    }
    dead_letter_arn = scheduler_stack.client("sqs").get_queue_attributes(
        QueueUrl=scheduler_stack.queue_url(f"{QUEUE_PREFIX}-schedules-dlq"),
        AttributeNames=["QueueArn"],
    )["Attributes"]["QueueArn"]
    assert target["DeadLetterConfig"] == {"Arn": dead_letter_arn}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    [(operation, params)] = schedule_requests
    assert operation == "CreateSchedule"
    assert params["ClientToken"] == detail[ENVELOPE_ID_KEY]  # derived from the event id


def test_times_are_utc_to_the_second_and_never_early(scheduler_stack):
    from zoneinfo import ZoneInfo

    paris = datetime(2031, 1, 2, 10, 0, 0, 250_000, tzinfo=ZoneInfo("Europe/Paris"))

    schedule(RenewalDue(contract_id="c-1", step=1), at=paris, key="renewal-c-1")

    expression = get_schedule(scheduler_stack, "renewal-c-1")["ScheduleExpression"]
    assert expression == "at(2031-01-02T09:00:01)"


def test_rescheduling_updates_the_one_schedule_with_its_full_definition(
    scheduler_stack, schedule_requests
):
    first = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    schedule(RenewalDue(contract_id="c-2", step=1), at=first, key="renewal-c-2")

    schedule(
        RenewalDue(contract_id="c-2", step=2), at=first + timedelta(hours=1), key="renewal-c-2"
    )

    schedules = scheduler_stack.client("scheduler").list_schedules(GroupName=SCHEDULE_GROUP)
    assert [item["Name"] for item in schedules["Schedules"]] == ["renewal-c-2"]
    item = get_schedule(scheduler_stack, "renewal-c-2")
    assert item["ScheduleExpression"] == "at(2031-05-06T08:08:09)"
    assert json.loads(item["Target"]["Input"])["step"] == 2
    assert [operation for operation, _ in schedule_requests] == [
        "CreateSchedule",
        "CreateSchedule",  # answered ConflictException
        "UpdateSchedule",
    ]
    create, update = schedule_requests[0][1], schedule_requests[2][1]
    # update_schedule resets what it is not given: it must get the whole definition.
    assert set(update) == set(create)
    for key in (
        "FlexibleTimeWindow",
        "ActionAfterCompletion",
        "State",
        "ScheduleExpressionTimezone",
    ):
        assert update[key] == create[key]
    assert update["Target"].keys() == create["Target"].keys()


def test_cancelling_deletes_it_and_cancelling_again_is_fine(scheduler_stack):
    schedule(
        RenewalDue(contract_id="c-3", step=1),
        at=datetime(2031, 1, 1, tzinfo=UTC),
        key="renewal-c-3",
    )

    cancel_schedule("renewal-c-3")
    cancel_schedule("renewal-c-3")  # already gone: done, not an error

    with pytest.raises(ClientError) as raised:
        get_schedule(scheduler_stack, "renewal-c-3")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_dev_firer_publishes_due_schedules_through_the_bus_and_deletes_them(
    scheduler_stack,
):
    now = datetime.now(UTC)
    schedule(RenewalDue(contract_id="due", step=1), at=now - timedelta(seconds=1), key="r-due")
    schedule(RenewalDue(contract_id="later", step=1), at=now + timedelta(hours=1), key="r-later")

    assert fire_due_schedules(now=now) == 1

    [body] = scheduler_stack.queue_bodies(f"{QUEUE_PREFIX}-{SUBSCRIPTION}")
    assert body["detail-type"] == "RenewalDue"
    assert body["source"] == "tests.renewals"
    assert body["detail"]["contract_id"] == "due"
    remaining = scheduler_stack.client("scheduler").list_schedules(GroupName=SCHEDULE_GROUP)
    assert [item["Name"] for item in remaining["Schedules"]] == ["r-later"]
    assert fire_due_schedules(now=now) == 0  # fired once only


def test_the_dev_firer_refuses_a_non_loopback_endpoint(aws, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://scheduler.eu-west-1.amazonaws.com")
    aws_clients.reset()

    with pytest.raises(CommandError, match="local moto server only"):
        call_command("fire_due_schedules_dev")
