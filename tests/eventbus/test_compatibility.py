"""Schema compatibility: the structural diff, and the system check that holds the code to
the committed catalog (docs/events/asyncapi.json)."""

from __future__ import annotations

import copy
import dataclasses
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from cart.events import ItemAddedToCart
from eventbus import events, versioning
from eventbus.catalog import asyncapi_document, to_json
from eventbus.checks import check_event_catalog
from eventbus.compatibility import catalog_changes, schema_changes
from eventbus.testing import replaced_schema, temporary_subscription
from notifications.events import CartReminderSent, CartReminderSentV1

OBJECT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "sku": {"type": "string", "minLength": 1, "maxLength": 32},
        "quantity": {"type": "integer", "minimum": 1},
        "channel": {"type": "string", "enum": ["email", "sms"]},
        "note": {"type": "string"},
        "lines": {
            "type": "array",
            "items": {"type": "object", "properties": {"n": {"type": "integer"}}},
        },
    },
    "required": ["sku", "quantity"],
}


def changed(edit) -> dict:
    schema = copy.deepcopy(OBJECT)
    edit(schema)
    return schema


def findings(edit) -> list[tuple[str, str, bool]]:
    return [
        (change.path, change.message, change.breaking)
        for change in schema_changes(OBJECT, changed(edit))
    ]


def breaking(edit) -> list[tuple[str, str]]:
    return [(path, message) for path, message, is_breaking in findings(edit) if is_breaking]


def test_the_same_schema_has_no_changes():
    assert schema_changes(OBJECT, copy.deepcopy(OBJECT)) == []


@pytest.mark.parametrize(
    ("edit", "path", "words"),
    [
        (lambda s: s["properties"].pop("note"), "note", "field removed or renamed"),
        (lambda s: s["properties"]["quantity"].update(type="string"), "quantity", "type changed"),
        (
            lambda s: (
                s["properties"].update(wrap={"type": "boolean"}),
                s["required"].append("wrap"),
            ),
            "wrap",
            "new required field without a default",
        ),
        (lambda s: s["required"].append("note"), "note", "became required"),
        (lambda s: s["properties"]["channel"].update(enum=["email"]), "channel", "enum narrowed"),
        (lambda s: s["properties"]["note"].update(enum=["a"]), "note", "now limited to the values"),
        (lambda s: s["properties"]["quantity"].update(minimum=2), "quantity", "minimum tightened"),
        (lambda s: s["properties"]["sku"].update(maxLength=16), "sku", "maxLength tightened"),
        (lambda s: s["properties"]["note"].update(maxLength=10), "note", "maxLength added"),
        (lambda s: s["properties"]["note"].update(pattern="^[a-z]+$"), "note", "pattern"),
        (lambda s: s["properties"]["note"].update(format="email"), "note", "format"),
        (lambda s: s["properties"]["note"].pop("type"), None, None),  # widened: not breaking
        (
            lambda s: s["properties"]["lines"]["items"]["properties"]["n"].update(type="string"),
            "lines[].n",
            "type changed",
        ),
        (
            lambda s: s["properties"]["lines"]["items"]["properties"].pop("n"),
            "lines[].n",
            "field removed",
        ),
        (lambda s: s["properties"]["note"].update(oneOf=[{"type": "string"}]), "note", "oneOf"),
    ],
)
def test_each_kind_of_breaking_change_names_its_field(edit, path, words):
    found = breaking(edit)
    if path is None:
        assert found == []
        return
    assert any(at == path and words in message for at, message in found), found


def test_a_renamed_field_is_a_removed_one_plus_an_optional_one():
    def rename(schema):
        schema["properties"]["remark"] = schema["properties"].pop("note")

    assert findings(rename) == [
        ("note", "field removed or renamed: old events carry it", True),
        ("remark", "new optional field", False),
    ]


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda s: s["properties"].update(gift={"type": "boolean"}), "new optional field"),
        (
            lambda s: (
                s["properties"].update(gift={"type": "boolean", "default": False}),
                s["required"].append("gift"),
            ),
            "new required field with a default",
        ),
        (lambda s: s["required"].remove("quantity"), "field became optional"),
        (
            lambda s: s["properties"]["channel"].update(enum=["email", "sms", "push"]),
            "enum widened",
        ),
        (lambda s: s["properties"]["quantity"].update(type="number"), "type widened"),
        (lambda s: s["properties"]["sku"].update(maxLength=64), "maxLength loosened"),
        (lambda s: s["properties"]["quantity"].update(minimum=0), "minimum loosened"),
        (lambda s: s["properties"]["sku"].update(description="The SKU."), "description changed"),
        (lambda s: s.update(additionalProperties=True), "now accepts fields"),
    ],
)
def test_compatible_changes_are_reported_but_not_breaking(edit, words):
    found = findings(edit)
    assert found, "a change must be reported (the catalog needs regenerating)"
    assert not [item for item in found if item[2]], found
    assert any(words in message for _, message, _ in found), found


def test_enum_values_compare_as_json_values():
    # Python says 1 == True; JSON does not.
    old = {"enum": [1, "a"]}
    assert [change.breaking for change in schema_changes(old, {"enum": [True, "a"]})] == [
        True,
        False,
    ]


def test_closing_an_open_object_is_breaking():
    old = {"type": "object", "properties": {"a": {"type": "string"}}}
    new = {**old, "additionalProperties": False}
    assert [(c.message, c.breaking) for c in schema_changes(old, new)] == [
        ("no longer accepts fields it does not declare", True)
    ]


# --- The system check, against the committed catalog ------------------------------------------


def check_output() -> str:
    """Run ``manage.py check``; raises SystemCheckError on errors, returns the warnings."""
    out = StringIO()
    call_command("check", stdout=out, stderr=out)
    return out.getvalue()


def edited(event_class, edit) -> dict:
    schema = copy.deepcopy(event_class.schema)
    edit(schema)
    return schema


def test_the_committed_catalog_passes_the_check():
    messages = check_event_catalog()
    assert [item for item in messages if item.is_serious()] == []


def test_removing_a_required_field_fails_check_naming_event_and_field():
    def remove_sku(schema):
        del schema["properties"]["sku"]
        schema["required"].remove("sku")

    with (
        replaced_schema(ItemAddedToCart, edited(ItemAddedToCart, remove_sku)),
        pytest.raises(SystemCheckError) as raised,
    ):
        check_output()
    message = str(raised.value)
    assert "eventbus.E001" in message
    assert "ItemAddedToCart v1: detail.sku: field removed or renamed" in message


def test_changing_a_type_fails_check_naming_event_and_field():
    def quantity_as_text(schema):
        schema["properties"]["quantity"] = {"type": "string"}

    with (
        replaced_schema(ItemAddedToCart, edited(ItemAddedToCart, quantity_as_text)),
        pytest.raises(SystemCheckError) as raised,
    ):
        check_output()
    assert "ItemAddedToCart v1: detail.quantity: type changed from integer to string" in str(
        raised.value
    )


def test_adding_a_required_field_fails_check_naming_event_and_field():
    def add_gift_wrap(schema):
        schema["properties"]["gift_wrap"] = {"type": "boolean"}
        schema["required"].append("gift_wrap")

    with (
        replaced_schema(ItemAddedToCart, edited(ItemAddedToCart, add_gift_wrap)),
        pytest.raises(SystemCheckError) as raised,
    ):
        check_output()
    assert "ItemAddedToCart v1: detail.gift_wrap: new required field without a default" in str(
        raised.value
    )


def test_narrowing_an_enum_and_tightening_a_limit_fail_check():
    def sms_only(schema):
        schema["properties"]["channel"] = {**schema["properties"]["channel"], "enum": ["sms"]}
        schema["properties"]["channel_message_id"]["maxLength"] = 64

    with (
        replaced_schema(CartReminderSent, edited(CartReminderSent, sms_only)),
        pytest.raises(SystemCheckError) as raised,
    ):
        check_output()
    message = str(raised.value)
    assert 'CartReminderSent v2: detail.channel: enum narrowed: ["email"] no longer allowed' in (
        message
    )
    assert "CartReminderSent v2: detail.channel_message_id: maxLength tightened" in message


def test_adding_an_optional_field_passes_check_with_a_warning_to_regenerate():
    def add_coupon(schema):
        schema["properties"]["coupon"] = {"type": "string", "maxLength": 20}

    with replaced_schema(ItemAddedToCart, edited(ItemAddedToCart, add_coupon)):
        output = check_output()  # no SystemCheckError
        serious = [item for item in check_event_catalog() if item.is_serious()]
    assert serious == []
    assert "eventbus.W001" in output
    assert "ItemAddedToCart v1: detail.coupon: new optional field" in output
    assert "manage.py export_asyncapi" in output


def test_each_version_is_its_own_message():
    """v1 stays under contract after v2 exists: a change to v1 is reported as v1's."""

    def drop_message_id(schema):
        del schema["properties"]["message_id"]
        schema["required"].remove("message_id")

    with (
        replaced_schema(CartReminderSentV1, edited(CartReminderSentV1, drop_message_id)),
        pytest.raises(SystemCheckError) as raised,
    ):
        check_output()
    message = str(raised.value)
    assert "CartReminderSent v1: detail.message_id: field removed" in message
    assert "CartReminderSent v2" not in message


@pytest.fixture
def cart_reminder_sent_v3():
    """A third version of CartReminderSent, declared with its upcaster (and the downcaster
    the recovery dashboard, which reads v2, needs), then forgotten."""

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class CartReminderSentV3(CartReminderSent):
        detail_type = "CartReminderSent"
        version = 3
        schema = edited(
            CartReminderSent, lambda s: s["properties"].update(opened={"type": "boolean"})
        )

    upcast = versioning.upcaster(CartReminderSent, CartReminderSentV3)(lambda detail, _: detail)
    versioning.downcaster(CartReminderSentV3, CartReminderSent)(
        lambda detail, _: {k: v for k, v in detail.items() if k != "opened"}
    )
    yield CartReminderSentV3, upcast
    key = ("shop.notifications", "CartReminderSent")
    del events._registry[(*key, 3)]
    events._latest[key] = CartReminderSent.event_type()
    versioning._steps.pop((*key, 2, 3), None)
    versioning._steps.pop((*key, 3, 2), None)


def test_a_new_version_is_fine_and_only_asks_to_regenerate(cart_reminder_sent_v3):
    output = check_output()
    assert "CartReminderSent v3: new event type or version" in output


def test_a_version_without_its_upcaster_fails_check(cart_reminder_sent_v3):
    versioning._steps.pop(("shop.notifications", "CartReminderSent", 2, 3))
    with pytest.raises(SystemCheckError) as raised:
        check_output()
    assert "eventbus.E002" in str(raised.value)
    assert "CartReminderSent v2 has no upcaster to v3" in str(raised.value)


def test_pinning_a_version_that_does_not_exist_fails_check():
    pattern = {"detail-type": ["CartReminderSent"]}
    with (
        temporary_subscription(name="check-pin", pattern=pattern, versions={"CartReminderSent": 7}),
        pytest.raises(SystemCheckError) as raised,
    ):
        check_output()
    assert "subscription check-pin pins CartReminderSent v7" in str(raised.value)


def test_a_subscription_silently_moved_to_a_newer_version_fails_check(tmp_path, settings):
    """A consumer written for v1 that would start getting v2 (because its pin was dropped,
    or a v2 was added under it) is breaking for that consumer."""
    pattern = {"source": ["shop.notifications"], "detail-type": ["CartReminderSent"]}
    committed = tmp_path / "asyncapi.json"
    with temporary_subscription(name="crm", pattern=pattern, versions={"CartReminderSent": 1}):
        committed.write_text(to_json(asyncapi_document()))
    settings.EVENT_CATALOG = {**settings.EVENT_CATALOG, "PATH": committed}
    with (
        temporary_subscription(name="crm", pattern=pattern),
        pytest.raises(SystemCheckError) as raised,
    ):
        check_output()
    assert "subscription crm: was written for CartReminderSent v1 and would now get v2" in str(
        raised.value
    )


def test_a_missing_or_unreadable_catalog_is_reported(tmp_path, settings):
    settings.EVENT_CATALOG = {**settings.EVENT_CATALOG, "PATH": tmp_path / "none.json"}
    assert [item.id for item in check_event_catalog()] == ["eventbus.W002"]
    (tmp_path / "bad.json").write_text("{not json")
    settings.EVENT_CATALOG = {**settings.EVENT_CATALOG, "PATH": tmp_path / "bad.json"}
    assert [item.id for item in check_event_catalog()] == ["eventbus.E003"]


def test_catalog_changes_finds_a_removed_version():
    current = asyncapi_document()
    committed = copy.deepcopy(current)
    committed["components"]["messages"]["CartReminderSent-v0"] = copy.deepcopy(
        current["components"]["messages"]["CartReminderSent-v1"]
    )
    committed["components"]["messages"]["CartReminderSent-v0"]["title"] = "CartReminderSent v0"
    [finding] = catalog_changes(json.loads(json.dumps(committed)), current)
    assert finding.breaking
    assert str(finding).startswith("CartReminderSent v0: no longer declared")
