"""Under CI the suite runs on the real services: prove it, so a silent fallback fails."""

import os

import pytest
from django.conf import settings
from django.db import connection

from tests.integration.conftest import IN_CI


@pytest.mark.integration
@pytest.mark.django_db
def test_ci_runs_on_postgresql_and_redis(require_postgres, require_redis):
    assert connection.vendor == "postgresql"
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    if IN_CI:
        assert os.environ["DATABASE_URL"].startswith("postgres")
