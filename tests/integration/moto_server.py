"""Fixtures for the EventBridge backend: moto's server on a free loopback port, spoken to
over HTTP through boto3 exactly as a deployment speaks to AWS.

tests/integration/conftest.py imports the fixtures: ``aws``, ``provisioned``.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from eventbus.aws import clients as aws_clients
from eventbus.backend import get_backend

REGION = "eu-west-1"
BUS_NAME = "shop-test"
QUEUE_PREFIX = "test"
SCHEDULE_GROUP = "shop-test"


class _NoServiceFilter(logging.Filter):
    """moto's server has no Schemas API: a request for it fails inside moto (no backend of
    that name) and werkzeug logs the traceback. Provisioning asks on purpose, to report the
    registry as skipped, so that one expected error is kept out of the test output; any
    other error of moto's still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        # werkzeug logs "Error on request:" with the formatted traceback as an argument.
        text = record.getMessage()
        unknown_service = (
            text.startswith("Error on request")
            and "moto/backends.py" in text
            and "in get_backend" in text
            and text.rstrip().endswith("'NoneType' object has no attribute 'replace'")
        )
        return not unknown_service


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server for the session (state is reset before each test)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").addFilter(_NoServiceFilter())

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class AwsStack:
    """The endpoint plus helpers to look at queues the way an operator would."""

    endpoint: str

    def client(self, service: str) -> Any:
        """The client the EventBridge backend itself uses (hooks on it see its calls)."""
        return get_backend().client(service)

    def queue_url(self, name: str) -> str:
        return self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]

    def queue_messages(self, name: str, *, max_messages: int = 1000) -> list[dict[str, Any]]:
        """Messages in queue ``name``, received and made visible again at once."""
        sqs = self.client("sqs")
        url = self.queue_url(name)
        messages: list[dict[str, Any]] = []
        while len(messages) < max_messages:
            batch = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30
            ).get("Messages", [])
            if not batch:
                break
            messages += batch
        for message in messages:
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return messages

    def queue_bodies(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(message["Body"]) for message in self.queue_messages(name)]

    def queue_depth(self, name: str) -> int:
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url(name),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


@pytest.fixture
def aws(moto_endpoint, monkeypatch, settings) -> Iterator[AwsStack]:
    """A clean moto, this process's boto3 clients pointed at it, and the EventBridge
    backend configured as the bus (not provisioned: see ``provisioned``)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log
    urllib.request.urlopen(
        urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"), timeout=10
    ).read()
    for name, value in {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    settings.EVENT_BUS = {
        **settings.EVENT_BUS,
        "BACKEND": "eventbus.aws.backend.EventBridgeBackend",
        "OPTIONS": {
            "bus_name": BUS_NAME,
            "schedule_group": SCHEDULE_GROUP,
            "queue_prefix": QUEUE_PREFIX,
            "scheduler_role_arn": "",
            "put_events_backoff_seconds": 0.01,
        },
        "MAX_ATTEMPTS": 3,
        "RETRY_BASE_SECONDS": 0.01,
        "RETRY_MAX_SECONDS": 0.05,
    }
    aws_clients.reset()
    yield AwsStack(endpoint=moto_endpoint)
    aws_clients.reset()


@pytest.fixture
def provisioned(aws) -> AwsStack:
    """``aws`` with every resource provisioned from the subscriptions in code."""
    from eventbus.aws.provisioning import provision

    provision(create_role=True)
    return aws
