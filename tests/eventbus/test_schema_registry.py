"""How provisioning tells an endpoint without the Schemas API from a registry that answers
with an error (the registry is skipped for the first, the run fails for the second)."""

from __future__ import annotations

import socket

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from eventbus.aws.schema_registry import registry_schemas, schemas_service_missing
from eventbus.events import event_types
from tests.eventbus.schemas_service import SchemasService


def test_a_schemas_api_is_found():
    assert schemas_service_missing(SchemasService().client()) == ""


def test_an_answer_that_is_not_the_schemas_api_means_it_is_missing():
    """moto's server answers an unknown service with an HTML page and status 500, which
    botocore reports as the error code "500" (tests/integration shows it on moto)."""
    service = SchemasService(failures={"ListRegistries": (500, "500")})
    reason = schemas_service_missing(service.client())
    assert (
        reason == "https://schemas.test.invalid answered HTTP 500, not the EventBridge Schemas API"
    )


def test_an_endpoint_that_cannot_be_reached_means_it_is_missing():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = boto3.session.Session().client(
        "schemas",
        region_name="eu-west-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    assert "cannot be reached" in schemas_service_missing(client)


def test_a_real_error_of_the_schemas_api_is_raised():
    service = SchemasService(failures={"ListRegistries": (403, "AccessDeniedException")})
    with pytest.raises(ClientError, match="AccessDeniedException"):
        schemas_service_missing(service.client())


def test_one_schema_per_event_type_and_version_valid_as_draft_04():
    from jsonschema import Draft4Validator

    schemas = registry_schemas()
    assert len(schemas) == len(list(event_types(all_versions=True)))
    assert len({schema.name for schema in schemas}) == len(schemas)
    for schema in schemas:
        Draft4Validator.check_schema(schema.document)
        assert schema.document["$schema"] == "http://json-schema.org/draft-04/schema#"
