"""boto3 clients for the EventBridge backend: built on first use, one per service and process.

Endpoint and credentials come from the standard AWS chain (``AWS_ENDPOINT_URL`` points at
moto locally); the region from ``EVENT_BUS["OPTIONS"]["region"]`` or the same chain.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 10
# An SQS long poll holds the connection for up to 20 s: the read timeout must outlast it.
SQS_READ_TIMEOUT_SECONDS = 30
# Threads of one process share a client; keep enough pooled connections for them.
MAX_POOL_CONNECTIONS = 20


def configured_region() -> str | None:
    """The bus's region, or None to let boto3 take it from the environment and profile."""
    region = settings.EVENT_BUS.get("OPTIONS", {}).get("region") or ""
    return None if region in ("", "local") else region


@cache
def _session() -> boto3.session.Session:
    # Building a session reads the endpoint and partition data (~150 ms): do it once.
    return boto3.session.Session()


_creating = threading.Lock()


@cache
def client(service: str) -> Any:
    """A boto3 client for ``service`` with timeouts and the standard retry mode.

    boto3 clients are thread-safe, so one per process is enough; building one costs
    milliseconds (it loads the service model), which is why it is cached. A session is
    not thread-safe, so clients are created under a lock.
    """
    config = Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=SQS_READ_TIMEOUT_SECONDS if service == "sqs" else READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "max_attempts": 3},
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )
    with _creating:
        return _session().client(service, region_name=configured_region(), config=config)


def reset() -> None:
    """Forget every client and the session (the environment changed: tests, reconfiguring)."""
    client.cache_clear()
    _session.cache_clear()


@receiver(setting_changed)
def _forget_clients(*, setting: str, **kwargs: object) -> None:
    if setting == "EVENT_BUS":
        client.cache_clear()  # the region may have changed; the session does not depend on it
