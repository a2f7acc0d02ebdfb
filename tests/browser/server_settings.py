"""Settings of the gunicorn that the browser tests drive: the real settings, with static
files served straight from the apps' folders (a test run has no collectstatic)."""

from config.settings import *  # noqa: F403

STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
