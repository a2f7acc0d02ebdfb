"""The AsyncAPI catalog: valid AsyncAPI 3.0, complete, and what the endpoints serve."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from jsonschema import Draft4Validator, Draft7Validator, Draft202012Validator

from eventbus.catalog import asyncapi_document, catalog_path, message_key, to_json
from eventbus.conversion import from_envelope
from eventbus.envelope import Envelope
from eventbus.events import event_types
from eventbus.subscriptions import all_subscriptions
from eventbus.testing import replaced_schema, temporary_subscription
from notifications.events import CartReminderSent, CartReminderSentV1

ROOT = Path(__file__).resolve().parents[2]
# The official AsyncAPI 3.0.0 JSON Schema, vendored from @asyncapi/specs 6.11.1 (Apache-2.0).
OFFICIAL_SCHEMA = Path(__file__).with_name("asyncapi") / "3.0.0.json"
REMINDERS = {"source": ["shop.notifications"], "detail-type": ["CartReminderSent"]}


@pytest.fixture(scope="module")
def asyncapi_validator() -> Draft7Validator:
    schema = json.loads(OFFICIAL_SCHEMA.read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema"
    assert schema["properties"]["asyncapi"]["const"] == "3.0.0"
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def errors_of(validator: Draft7Validator, document: dict) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message[:200]}"
        for error in validator.iter_errors(document)
    ]


def test_the_document_is_valid_asyncapi_3(asyncapi_validator):
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    assert errors_of(asyncapi_validator, document) == []


def test_the_official_schema_catches_what_is_wrong(asyncapi_validator):
    """The validation has teeth: the same document, broken in ways AsyncAPI forbids."""
    document = asyncapi_document()
    broken = copy.deepcopy(document)
    broken["operations"]["receive-cart-projection"]["action"] = "subscribe"  # AsyncAPI 2 word
    assert any("action" in error for error in errors_of(asyncapi_validator, broken))
    broken = copy.deepcopy(document)
    broken["components"]["messages"]["ItemAddedToCart-v1"]["payload"]["type"] = "entity"
    assert errors_of(asyncapi_validator, broken)
    broken = copy.deepcopy(document)
    del broken["info"]["version"]
    assert errors_of(asyncapi_validator, broken)


def test_every_reference_resolves_inside_the_document():
    document = asyncapi_document()

    def references(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from references(value)
        elif isinstance(node, list):
            for value in node:
                yield from references(value)

    found = list(references(document))
    assert len(found) > 20
    for reference in found:
        assert reference.startswith("#/")
        target = document
        for part in reference[2:].split("/"):
            target = target[part]  # KeyError: a dangling reference
        assert isinstance(target, dict)


def test_it_lists_every_event_type_version_and_subscription():
    with temporary_subscription(name="catalog-late-comer", pattern=REMINDERS):
        document = asyncapi_document()
        subscriptions = {item.name for item in all_subscriptions()}
    messages = document["components"]["messages"]
    declared = {message_key(item) for item in event_types(all_versions=True)}
    assert set(messages) == declared
    assert set(document["channels"]["bus"]["messages"]) == declared
    # The shop's own types, both versions of the versioned one.
    assert {
        "ItemAddedToCart-v1",
        "CartItemQuantityChanged-v1",
        "CartItemRemoved-v1",
        "CartContactChanged-v1",
        "CartCheckedOut-v1",
        "CartReminderDue-v1",
        "CartReminderSent-v1",
        "CartReminderSent-v2",
    } <= declared
    receivers = {
        operation["x-subscription"]: operation
        for operation in document["operations"].values()
        if operation["action"] == "receive"
    }
    assert set(receivers) == subscriptions
    assert {"cart-projection", "reminder-policy", "abandoned-cart-mailer"} <= subscriptions


def test_each_message_is_the_whole_envelope_with_a_valid_example():
    document = asyncapi_document()
    for key, message in document["components"]["messages"].items():
        payload = message["payload"]
        # The same schema serves AsyncAPI (draft-07), the validator (2020-12) and a schema
        # registry (draft-04).
        for validator_class in (Draft4Validator, Draft7Validator, Draft202012Validator):
            validator_class.check_schema(payload)
        assert set(payload["required"]) == {
            "version",
            "id",
            "detail-type",
            "source",
            "account",
            "time",
            "region",
            "resources",
            "detail",
        }
        [example] = message["examples"]
        validator = Draft7Validator(payload, format_checker=Draft7Validator.FORMAT_CHECKER)
        assert list(validator.iter_errors(example["payload"])) == [], key
        # And the example is an event the code itself reads back.
        event = from_envelope(Envelope.from_dict(example["payload"]))
        assert event.detail_type == message["name"]
        assert event.version == message["x-eventbridge"]["version"]


def test_the_versioned_event_has_both_versions_and_publishers_send_the_latest():
    document = asyncapi_document()
    messages = document["components"]["messages"]
    v1, v2 = messages["CartReminderSent-v1"], messages["CartReminderSent-v2"]
    assert v1["x-eventbridge"] == {
        "source": "shop.notifications",
        "detail-type": "CartReminderSent",
        "version": 1,
        "latest": False,
    }
    assert v2["x-eventbridge"]["latest"] is True
    detail_v1 = v1["payload"]["properties"]["detail"]
    detail_v2 = v2["payload"]["properties"]["detail"]
    assert "message_id" in detail_v1["required"] and "version" not in detail_v1["required"]
    assert {"channel_message_id", "sent_at", "version"} <= set(detail_v2["required"])
    assert detail_v2["properties"]["version"]["enum"] == [2]
    assert v1["x-declared-in"] == "notifications.events.CartReminderSentV1"

    sends = document["operations"]["send-shop-notifications"]
    assert sends["action"] == "send"
    assert sends["x-django-apps"] == ["notifications"]
    assert {item["$ref"].rsplit("/", 1)[-1] for item in sends["messages"]} == {
        "CartReminderDue-v1",
        "CartReminderSent-v2",
        "CartReminderScheduled-v1",
        "CartReminderSkipped-v1",
        "CartReminderCancelled-v1",
        "RecoveryLinkOpened-v1",
        "OrderRecovered-v1",
    }
    cart_sends = document["operations"]["send-shop-cart"]
    assert len(cart_sends["messages"]) == 5 and cart_sends["x-django-apps"] == ["cart"]


def test_a_receive_operation_carries_its_pattern_and_the_version_it_reads():
    heavy = {**REMINDERS, "detail": {"step": [{"numeric": [">", 1]}]}}
    with (
        temporary_subscription(
            name="catalog-crm-v1", pattern=REMINDERS, versions={"CartReminderSent": 1}
        ),
        temporary_subscription(name="catalog-crm-latest", pattern=heavy),
    ):
        operations = asyncapi_document()["operations"]
    old_reader = operations["receive-catalog-crm-v1"]
    assert old_reader["action"] == "receive"
    assert old_reader["x-eventbridge-pattern"] == REMINDERS
    assert old_reader["messages"] == [{"$ref": "#/channels/bus/messages/CartReminderSent-v1"}]
    assert old_reader["x-pinned-versions"] == {"CartReminderSent": 1}
    assert old_reader["x-filters-detail"] is False
    new_reader = operations["receive-catalog-crm-latest"]
    assert new_reader["messages"] == [{"$ref": "#/channels/bus/messages/CartReminderSent-v2"}]
    assert new_reader["x-filters-detail"] is True
    projection = operations["receive-cart-projection"]
    assert projection["x-handler"] == "cart.handlers.project_cart"
    assert projection["x-django-app"] == "cart"
    assert projection["summary"].startswith("Builds the cart lines")


def _run_manage(*args: str) -> subprocess.CompletedProcess:
    """A fresh process: only the project's own events and subscriptions are registered."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "EVENTBUS_EXTRA_HANDLER_MODULES")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_committed_catalog_is_up_to_date_with_the_code():
    """CI fails when someone changes an event or a subscription and forgets to run
    ``manage.py export_asyncapi``; the whole system check passes with no warning."""
    assert catalog_path() == ROOT / "docs" / "events" / "asyncapi.json"
    exported = _run_manage("export_asyncapi", "--check")
    assert exported.returncode == 0, exported.stderr + exported.stdout
    assert "is up to date" in exported.stdout
    checked = _run_manage("check", "--fail-level", "WARNING")
    assert checked.returncode == 0, checked.stderr + checked.stdout


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


def test_export_writes_the_file_and_check_notices_when_it_is_stale(tmp_path):
    target = tmp_path / "events" / "asyncapi.json"
    output = run("export_asyncapi", "--output", str(target))
    assert "messages (event types and versions)" in output
    assert json.loads(target.read_text()) == asyncapi_document()
    assert target.read_text() == to_json(asyncapi_document())
    assert "is up to date" in run("export_asyncapi", "--output", str(target), "--check")

    with (
        temporary_subscription(name="catalog-new-consumer", pattern=REMINDERS),
        pytest.raises(CommandError, match="out of date") as raised,
    ):
        run("export_asyncapi", "--output", str(target), "--check")
    assert "subscription catalog-new-consumer: new" in str(raised.value)


def test_export_to_standard_output():
    assert json.loads(run("export_asyncapi", "--output", "-")) == asyncapi_document()


def test_export_refuses_to_overwrite_the_contract_with_a_breaking_change(tmp_path):
    target = tmp_path / "asyncapi.json"
    run("export_asyncapi", "--output", str(target))
    before = target.read_text()
    narrower = copy.deepcopy(CartReminderSentV1.schema)
    del narrower["properties"]["message_id"]
    narrower["required"].remove("message_id")
    with replaced_schema(CartReminderSentV1, narrower):
        with pytest.raises(CommandError, match="not backward compatible") as raised:
            run("export_asyncapi", "--output", str(target))
        assert "CartReminderSent v1: detail.message_id: field removed" in str(raised.value)
        assert target.read_text() == before
        run("export_asyncapi", "--output", str(target), "--allow-breaking")
    assert "message_id" not in json.dumps(
        json.loads(target.read_text())["components"]["messages"]["CartReminderSent-v1"]["payload"]
    )


def test_the_json_endpoint_serves_the_document(client):
    response = client.get("/api/events/asyncapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == asyncapi_document()
    assert client.post("/api/events/asyncapi.json").status_code == 405


@pytest.mark.django_db
def test_the_page_lists_types_fields_versions_publishers_and_consumers(client):
    with temporary_subscription(
        name="catalog-crm-v1", pattern=REMINDERS, versions={"CartReminderSent": 1}
    ):
        response = client.get("/api/events/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<link rel="stylesheet" href="/static/shop/shop.css">' in html  # the shop's base
    for item in event_types():
        assert f'data-event-type="{item.detail_type}"' in html
    for name in ("cart-projection", "reminder-policy", "abandoned-cart-mailer", "catalog-crm-v1"):
        assert f'data-subscription="{name}"' in html
    assert 'id="CartReminderSent-v1"' in html and 'id="CartReminderSent-v2"' in html
    assert 'data-field="channel_message_id"' in html and 'data-field="message_id"' in html
    assert "The message&#x27;s id on its channel" in html
    assert "catalog-crm-v1</a> (reads v1)" in html
    assert "shop.notifications (notifications app)" in html
    assert "http://" not in html.replace("http://json-schema.org", "")  # nothing external


def test_a_detail_with_a_changed_schema_changes_the_document():
    """The catalog is generated, not stored: a schema edit shows at once."""
    wider = copy.deepcopy(CartReminderSent.schema)
    wider["properties"]["opened_at"] = {"type": "string", "format": "date-time"}
    with replaced_schema(CartReminderSent, wider):
        detail = asyncapi_document()["components"]["messages"]["CartReminderSent-v2"]["payload"][
            "properties"
        ]["detail"]
    assert "opened_at" in detail["properties"]
