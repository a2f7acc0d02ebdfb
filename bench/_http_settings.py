"""Settings of the gunicorn that ``bench.cart_http`` measures: the real settings, with the
bench's URLconf (the production URLs plus two comparison endpoints)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench._http_urls"
