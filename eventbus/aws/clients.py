"""boto3 clients of the AWS code: built on first use, one per service and region and process.

Endpoint and credentials come from the standard AWS chain (``AWS_ENDPOINT_URL`` points at
moto locally); the region from the EventBridge backend, which owns it, or the same chain.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 10
# An SQS long poll holds the connection for up to 20 s: the read timeout must outlast it.
SQS_READ_TIMEOUT_SECONDS = 30
# Threads of one process share a client; keep enough pooled connections for them.
MAX_POOL_CONNECTIONS = 20


@cache
def _session() -> boto3.session.Session:
    # Building a session reads the endpoint and partition data (~150 ms): do it once.
    return boto3.session.Session()


_creating = threading.Lock()


@cache
def client(service: str, region: str | None = None, *, attempts: int = 3) -> Any:
    """A boto3 client for ``service`` with timeouts and the standard retry mode.

    boto3 clients are thread-safe, so one per process is enough; building one costs
    milliseconds (it loads the service model), which is why it is cached. A session is
    not thread-safe, so clients are created under a lock. ``region`` None lets boto3 take
    it from the environment and profile. ``attempts=1``: no retries (a probe whose failure
    is an answer, not a fault to ride out).
    """
    config = Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=SQS_READ_TIMEOUT_SECONDS if service == "sqs" else READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "max_attempts": attempts},
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )
    with _creating:
        return _session().client(service, region_name=region, config=config)


def partition_of(region: str) -> str:
    """The AWS partition of ``region`` ("aws", "aws-cn", "aws-us-gov", ...)."""
    return _session().get_partition_for_region(region)


def reset() -> None:
    """Forget every client and the session (the environment changed: tests, reconfiguring)."""
    client.cache_clear()
    _session.cache_clear()
