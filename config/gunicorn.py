"""gunicorn's settings: one file for `make run`, `make run-aws`, the benchmark and a
deployment (`gunicorn -c config/gunicorn.py config.wsgi`), each setting overridable from
the environment.

Measured with `BENCH_PARTS=a python -m bench cart_http` on two cores (2026-12-08, back to
back): 4 sync workers served the 202 add at 395-426 req/s with p99 55-68 ms; 2 gthread
workers x 4 threads at 392-431 req/s with p99 76-113 ms, and the bare DRF endpoint at half
the sync workers' rate (1027-1253 against 1513-2182 req/s). The request spends most of its
time in Python (the GIL), so threads in a worker add contention rather than throughput,
and the database round trips are short on a nearby PostgreSQL: sync is the default.
Behind a load balancer that keeps connections open, keep-alive saves a TCP handshake per
request; gthread workers are the ones that honour it (sync workers close each
connection), so a deployment with slow clients should switch
``GUNICORN_WORKER_CLASS=gthread``.
"""

from __future__ import annotations

import multiprocessing
import os

_host, _port = os.environ.get("WEB_HOST", "127.0.0.1"), os.environ.get("PORT", "8000")
bind = os.environ.get("GUNICORN_BIND", f"{_host}:{_port}")
# Two per core: while one waits for the database, the other runs.
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
backlog = 2048
graceful_timeout = 5
# "-": stdout, as the twelve-factor app logs; "" turns the access log off.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
