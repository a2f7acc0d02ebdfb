"""An in-memory EventBridge Schemas API for tests, behind a real botocore ``schemas`` client.

moto has no Schemas API. This answers the calls provisioning makes from a dict, after
botocore has validated each request against the service's own model (a wrong parameter
name or type fails as it would on AWS), and it validates schema contents as JSON Schema
draft-04 as the registry does. Nothing leaves the process: the answer is given at
botocore's ``before-call`` hook, before any HTTP request (as botocore's Stubber does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from jsonschema import Draft4Validator


@dataclass
class SchemasService:
    registries: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (registry, schema) -> its versions, oldest first
    schemas: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # operation -> (HTTP status, error code) it answers instead (access denied, throttled)
    failures: dict[str, tuple[int, str]] = field(default_factory=dict)

    def client(self, *, region: str = "eu-west-1") -> Any:
        client = boto3.session.Session().client(
            "schemas",
            region_name=region,
            endpoint_url="https://schemas.test.invalid",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.meta.events.register("before-parameter-build.schemas", self._remember)
        client.meta.events.register("before-call.schemas", self._answer)
        return client

    def writes(self) -> list[str]:
        """The operations that changed something, in order."""
        return [name for name, _ in self.calls if not name.startswith(("List", "Describe"))]

    def latest(self, registry: str, schema: str) -> dict[str, Any]:
        return self.schemas[(registry, schema)][-1]

    # --- botocore hooks -----------------------------------------------------------------

    def _remember(self, params: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
        context["schemas_service_params"] = dict(params)

    def _answer(self, model: Any, context: dict[str, Any], **kwargs: Any) -> Any:
        params = context["schemas_service_params"]
        self.calls.append((model.name, params))
        if model.name in self.failures:
            status, code = self.failures[model.name]
            return _response(status, {"Error": {"Code": code, "Message": f"{code} (injected)"}})
        try:
            body = getattr(self, f"_{model.name}")(**params)
        except _Error as error:
            failure = {"Code": error.code, "Message": error.message}
            return _response(error.status, {"Error": failure})
        return _response(200, body)

    # --- operations ----------------------------------------------------------------------

    def _ListRegistries(self, **params: Any) -> dict[str, Any]:
        return {"Registries": [{"RegistryName": name} for name in sorted(self.registries)]}

    def _DescribeRegistry(self, *, RegistryName: str) -> dict[str, Any]:
        return dict(self._registry(RegistryName))

    def _CreateRegistry(self, *, RegistryName: str, Description: str = "") -> dict[str, Any]:
        if RegistryName in self.registries:
            raise _Error(409, "ConflictException", f"Registry {RegistryName} already exists.")
        self.registries[RegistryName] = {"RegistryName": RegistryName, "Description": Description}
        return dict(self.registries[RegistryName])

    def _UpdateRegistry(self, *, RegistryName: str, Description: str = "") -> dict[str, Any]:
        self._registry(RegistryName)["Description"] = Description
        return dict(self.registries[RegistryName])

    def _ListSchemas(self, *, RegistryName: str, **params: Any) -> dict[str, Any]:
        self._registry(RegistryName)
        names = sorted(schema for registry, schema in self.schemas if registry == RegistryName)
        return {"Schemas": [{"SchemaName": name} for name in names]}

    def _DescribeSchema(self, *, RegistryName: str, SchemaName: str) -> dict[str, Any]:
        self._registry(RegistryName)
        versions = self.schemas.get((RegistryName, SchemaName))
        if not versions:
            raise _Error(404, "NotFoundException", f"Schema {SchemaName} does not exist.")
        return dict(versions[-1])

    def _CreateSchema(self, *, RegistryName: str, SchemaName: str, **fields: Any) -> Any:
        self._registry(RegistryName)
        if (RegistryName, SchemaName) in self.schemas:
            raise _Error(409, "ConflictException", f"Schema {SchemaName} already exists.")
        self.schemas[(RegistryName, SchemaName)] = []
        return self._new_version(RegistryName, SchemaName, **fields)

    def _UpdateSchema(self, *, RegistryName: str, SchemaName: str, **fields: Any) -> Any:
        self._DescribeSchema(RegistryName=RegistryName, SchemaName=SchemaName)
        return self._new_version(RegistryName, SchemaName, **fields)

    def _new_version(
        self, registry: str, name: str, *, Type: str, Content: str, Description: str = ""
    ) -> dict[str, Any]:
        if Type != "JSONSchemaDraft4":
            raise _Error(400, "BadRequestException", f"this fake knows no schema type {Type}")
        try:
            Draft4Validator.check_schema(json.loads(Content))
        except Exception as error:
            raise _Error(400, "BadRequestException", f"Invalid content: {error}") from error
        versions = self.schemas[(registry, name)]
        version = {
            "SchemaName": name,
            "Type": Type,
            "Content": Content,
            "Description": Description,
            "SchemaVersion": str(len(versions) + 1),
        }
        versions.append(version)
        return dict(version)

    def _registry(self, name: str) -> dict[str, Any]:
        if name not in self.registries:
            raise _Error(404, "NotFoundException", f"Registry {name} does not exist.")
        return self.registries[name]


class _Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _response(status: int, body: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    http = AWSResponse("https://schemas.test.invalid", status, {}, None)
    return http, {**body, "ResponseMetadata": {"HTTPStatusCode": status}}
