"""The Celery app, configured from Django settings under the ``CELERY_`` namespace."""

import os
from typing import Any

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def recycle_database_connections(sender: Task, **kwargs: Any) -> None:
    """Keep a worker's database connection from task to task as Django keeps a web
    process's from request to request: closed only when broken or older than
    ``CONN_MAX_AGE`` (Celery's own fixup would close it around every task: see
    ``CELERY_DB_REUSE_MAX`` in the settings). An eager task runs inside its caller's
    transaction, which must stay open."""
    if not getattr(sender.request, "is_eager", False):
        close_old_connections()
