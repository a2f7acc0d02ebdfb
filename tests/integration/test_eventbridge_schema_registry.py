"""The schema registry that ``provision_eventbridge`` makes: one JSONSchemaDraft4 schema per
event type and version. Against moto (which has no Schemas API) it is reported as skipped;
against an in-memory Schemas API behind a real botocore client (tests/eventbus/
schemas_service.py, moto serving everything else) it is created, kept, and repaired."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from eventbus.aws.provisioning import CHANGED, CREATED, KEPT, ORPHANED, SKIPPED, Provisioner
from eventbus.aws.schema_registry import registry_schema, schema_name
from eventbus.events import event_types
from tests.eventbus.schemas_service import SchemasService
from tests.integration.moto_server import BUS_NAME, REGION

pytestmark = [pytest.mark.integration]

REGISTRY = f"{BUS_NAME}-events"


def provision_with(service: SchemasService, **options) -> dict[tuple[str, str], object]:
    actions = Provisioner(schemas_client=service.client(region=REGION), **options).run()
    return {(item.resource, item.name): item for item in actions}


def registry_actions(actions: dict) -> dict[tuple[str, str], object]:
    return {key: item for key, item in actions.items() if key[0] in ("schema registry", "schema")}


def test_against_moto_the_registry_is_reported_as_skipped(aws):
    out = StringIO()
    call_command("provision_eventbridge", stdout=out)
    first = out.getvalue()
    [line] = [line for line in first.splitlines() if line.startswith("schema registry")]
    assert REGISTRY in line and SKIPPED in line
    assert "not the EventBridge Schemas API" in line
    assert f"its {len(list(event_types(all_versions=True)))} schemas were not made" in line

    out = StringIO()
    call_command("provision_eventbridge", stdout=out)
    # Everything else was made, and a skipped registry is no change.
    assert "0 change(s)" in out.getvalue()
    assert "schema registry" in out.getvalue() and SKIPPED in out.getvalue()


def test_one_schema_per_event_type_and_version_and_a_second_run_keeps_them(aws):
    service = SchemasService()

    first = registry_actions(provision_with(service))

    expected = {schema_name(item) for item in event_types(all_versions=True)}
    assert "shop.notifications@CartReminderSent-v1" in expected  # both versions of a type
    assert "shop.notifications@CartReminderSent-v2" in expected
    assert first[("schema registry", REGISTRY)].outcome == CREATED
    assert {name for (resource, name) in first if resource == "schema"} == {
        f"{REGISTRY}/{name}" for name in expected
    }
    assert {item.outcome for item in first.values()} == {CREATED}
    assert set(service.registries) == {REGISTRY}
    assert {schema for _, schema in service.schemas} == expected
    for event_type in event_types(all_versions=True):
        stored = service.latest(REGISTRY, schema_name(event_type))
        assert stored["Type"] == "JSONSchemaDraft4"
        content = json.loads(stored["Content"])
        assert content["$schema"] == "http://json-schema.org/draft-04/schema#"
        assert content == registry_schema(event_type).document
        assert content["properties"]["detail-type"]["enum"] == [event_type.detail_type]
    writes = len(service.writes())
    assert writes == 1 + len(expected)  # the registry and each schema, once

    second = registry_actions(provision_with(service))

    assert {item.outcome for item in second.values()} == {KEPT}
    assert set(second) == set(first)
    assert len(service.writes()) == writes  # nothing written again
    assert {len(versions) for versions in service.schemas.values()} == {1}


def test_a_changed_schema_gets_a_new_version_and_strangers_are_only_reported(aws):
    service = SchemasService()
    provision_with(service)
    name = "shop.cart@ItemAddedToCart-v1"
    service.schemas[(REGISTRY, name)][-1]["Content"] = json.dumps({"type": "object"})
    service.schemas[(REGISTRY, "somebody@Else-v1")] = [
        {"SchemaName": "somebody@Else-v1", "Type": "JSONSchemaDraft4", "Content": "{}"}
    ]

    actions = registry_actions(provision_with(service, prune=True))

    changed = actions[("schema", f"{REGISTRY}/{name}")]
    assert (changed.outcome, changed.note) == (CHANGED, "Content")
    assert service.latest(REGISTRY, name)["SchemaVersion"] == "2"
    assert json.loads(service.latest(REGISTRY, name)["Content"])["title"] == "ItemAddedToCart v1"
    assert actions[("schema", f"{REGISTRY}/somebody@Else-v1")].outcome == ORPHANED
    assert (REGISTRY, "somebody@Else-v1") in service.schemas  # never deleted


def test_a_dry_run_plans_the_registry_and_writes_nothing(aws):
    service = SchemasService()

    actions = registry_actions(provision_with(service, dry_run=True))

    assert {item.outcome for item in actions.values()} == {CREATED}
    assert len(actions) == 1 + len(list(event_types(all_versions=True)))
    assert service.writes() == []
