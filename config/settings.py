"""The one settings module: everything comes from the environment (12-factor).

With no environment at all the project runs embedded: SQLite and Celery's filesystem
transport under ``var/``, email to the console and to ``var/mail/``. Nothing exists only
in "production" settings; production is the same module with other variables.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.durations import parse_duration

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
# The embedded setup keeps its database, queue and mail here; make sure it exists.
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Core -------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
# The signing key of sessions, CSRF tokens and the links in emails. Without SECRET_KEY the
# one `make run` wrote under var/ on first run (bin/setup) is used; with DEBUG off there is
# no public fallback: a missing or "django-insecure-" key stops every process at start.
_SECRET_KEY_FILE = VAR_DIR / "secret_key"
SECRET_KEY = env.str("SECRET_KEY", default="") or (
    _SECRET_KEY_FILE.read_text().strip() if _SECRET_KEY_FILE.is_file() else ""
)
if DEBUG and not SECRET_KEY:
    SECRET_KEY = "django-insecure-debug-only"
if not DEBUG and (not SECRET_KEY or SECRET_KEY.startswith("django-insecure-")):
    raise ImproperlyConfigured(
        'SECRET_KEY is missing or insecure (a "django-insecure-" key) and DEBUG is off. '
        'Set SECRET_KEY to a long random value (python -c "import secrets; '
        f'print(secrets.token_urlsafe(50))"), or run `make run` once to write {_SECRET_KEY_FILE}.'
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "axes",
    "csp",
    "core",
    "eventbus",
    "shop",
    "cart",
    "notifications",
]

MIDDLEWARE = [
    "core.request_id.RequestIdMiddleware",
    "core.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cart.context_processors.cart_badge",
            ],
        },
    },
]

# --- Data -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file: wait for locks instead of failing, and
    # take the write lock at BEGIN so a reader never has to upgrade mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Throttles and login limits count here, so every process must see the same counts: a
# file cache under var/ for the embedded shop (shared by its web and worker processes on
# one machine), Redis (CACHE_URL=redis://...) when processes run on several machines.
CACHES = {
    "default": env.cache_url(
        "CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}?max_entries=10000"
    )
}
# Sessions are read from the cache and kept in the database: a returning shopper's request
# costs no query for its session, and a restarted cache loses none.
SESSION_ENGINE = env.str("SESSION_ENGINE", default="django.contrib.sessions.backends.cached_db")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
# Failed logins (the shop's and the admin's login pages, and any authenticate()) are
# counted per username and per client address by django-axes, in the database: after
# LOGIN_FAILURE_LIMIT failures either one is locked out for LOGIN_LOCKOUT (429).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = parse_duration(env.str("LOGIN_LOCKOUT", default="15m"))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.clients.client_address"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Successful logins are not logged: a table that only grows, of addresses and browsers.
AXES_DISABLE_ACCESS_LOG = True

LANGUAGE_CODE = "en-us"
# The shop's time zone: admin times, the recovery dashboard's days, reminder quiet hours.
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["config.formats"]  # compact dates and times (config/formats/en)

# --- Static and media -------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Serve uploaded media from Django itself: only with DEBUG, or where `make run` asks for it
# (bin/serve sets SERVE_MEDIA=1); in production a web server, S3 or CloudFront serves them.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env.bool("STATIC_MANIFEST", default=not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security (production values come from the environment) ---------------------------
# HTTPS=1 turns on everything a site served over TLS wants (redirect, secure cookies, a
# year of HSTS); each piece can still be set on its own. Off by default so the embedded
# shop works on http://127.0.0.1.
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=HTTPS)
# Behind a load balancer that terminates TLS (ALB, API Gateway, CloudFront).
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /healthz is probed over plain HTTP by load balancers, /metrics scraped by Prometheus.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Bodies above this are refused before anyone parses them (the cart API sends tiny JSON).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=256 * 1024)
# Content-Security-Policy (django-csp): scripts, styles, images and fonts from this site
# only, no plugins, no framing, forms post here. The shop's pages, the admin, Swagger UI
# (served from drf-spectacular-sidecar, its start script a file of its own) and the event
# catalog load nothing else.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Email --------------------------------------------------------------------------------
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
if "EMAIL_URL" in env:
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = env.str(
        "EMAIL_BACKEND", default="notifications.mail.ConsoleAndFileEmailBackend"
    )
    EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Event Shop <shop@example.com>")

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "core.authentication.CsrfEnforcingSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "core.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 12,
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    # No ?format=: one representation (JSON), and no 404 for an unknown format.
    "URL_FORMAT_OVERRIDE": None,
    # Trusted proxies in front of the shop: 0 means the socket's address is the client's,
    # so a forged X-Forwarded-For changes nothing; N takes the address the outermost of N
    # proxies appended. core.clients.client_address applies the same rule everywhere.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
# Every API error is an RFC 9457 problem (core.api, core.problems); core.openapi documents
# the statuses each operation can answer, with these bodies.
_API_ERROR_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422"]
_API_ERROR_STATUSES += ["429", "500"]
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "core.api.ProblemDetailsHandler",
    "EXCEPTION_FORMATTER_CLASS": "core.api.ProblemDetailsFormatter",
    "ALLOWED_ERROR_STATUS_CODES": _API_ERROR_STATUSES,
    "ERROR_SCHEMAS": {
        **dict.fromkeys(_API_ERROR_STATUSES, "core.openapi.ProblemSerializer"),
        "400": "core.openapi.ValidationProblemSerializer",
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Event Shop API",
    "DESCRIPTION": (BASE_DIR / "core" / "api_description.md").read_text(),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "TAGS": [
        {"name": "catalog", "description": "Products: search, sort, filter and page."},
        {
            "name": "cart",
            "description": "The caller's cart. Writes answer 202 Accepted once their event "
            "is recorded; `GET /api/cart/` shows it once applied.",
        },
    ],
}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "celery" / "processed").mkdir(exist_ok=True)
    (VAR_DIR / "celery" / "control").mkdir(exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # kombu's default is ./control, wherever the process happens to run.
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A lost worker's unacked task comes back after this (acks_late deliveries).
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    }
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection before and after every task unless
# this is set (then it closes it every 2 x this many tasks): a new connection per task
# cost the worker more than the delivery itself (docs/benchmarks.md). config.celery_app
# checks the connection around each task instead, as Django does around each request.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Keep Django's LOGGING (with request ids) in the worker too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "eventbus-sweep-outbox": {
        "task": "eventbus.sweep_outbox",
        "schedule": env.float("OUTBOX_SWEEP_INTERVAL", default=5.0),
    },
    "eventbus-prune-bus-records": {
        "task": "eventbus.prune_bus_records",
        "schedule": 3600.0,
    },
    "core-prune-idempotency-records": {
        "task": "core.prune_idempotency_records",
        "schedule": 3600.0,
    },
    "eventbus-publish-due-scheduled-events": {
        "task": "eventbus.publish_due_scheduled_events",
        "schedule": env.float("SCHEDULED_EVENTS_INTERVAL", default=5.0),
    },
    "notifications-prune-stale-carts": {
        "task": "notifications.prune_stale_carts",
        "schedule": 3600.0,
    },
}

# --- Event bus ------------------------------------------------------------------------------
EVENT_BUS_BACKEND = env.str("EVENT_BUS_BACKEND", default="celery")
_BACKEND_PATHS = {
    "celery": "eventbus.backends.celery.CeleryBackend",
    "eventbridge": "eventbus.aws.backend.EventBridgeBackend",
    "memory": "eventbus.backends.memory.InMemoryBackend",
}
AWS_REGION = env.str("AWS_REGION", default=env.str("AWS_DEFAULT_REGION", default="eu-west-1"))
# The EventBridge backend's constructor arguments (after CACHES' OPTIONS); names left unset
# take the backend's defaults, which are written in one place: its signature.
_EVENTBRIDGE_OPTIONS = {
    "bus_name": env.str("EVENT_BUS_NAME", default=None),
    "queue_prefix": env.str("EVENT_QUEUE_PREFIX", default=None),
    "schedule_group": env.str("SCHEDULE_GROUP", default=None),
    "region": AWS_REGION,
    "account": env.str("AWS_ACCOUNT_ID", default=None),
    "scheduler_role_arn": env.str("SCHEDULER_ROLE_ARN", default=None),
    "max_request_bytes": env.int("EVENTBRIDGE_MAX_REQUEST_BYTES", default=None),
    "archive_retention_days": env.int("EVENT_ARCHIVE_RETENTION_DAYS", default=None),
}
EVENT_BUS = {
    "BACKEND": _BACKEND_PATHS.get(EVENT_BUS_BACKEND, EVENT_BUS_BACKEND),
    "OPTIONS": (
        {name: value for name, value in _EVENTBRIDGE_OPTIONS.items() if value not in (None, "")}
        if EVENT_BUS_BACKEND == "eventbridge"
        else {}
    ),
    # Delivery: attempts before a dead letter, and the exponential backoff between them.
    "MAX_ATTEMPTS": env.int("EVENT_MAX_ATTEMPTS", default=5),
    "RETRY_BASE_SECONDS": env.float("EVENT_RETRY_BASE_SECONDS", default=2.0),
    "RETRY_MAX_SECONDS": env.float("EVENT_RETRY_MAX_SECONDS", default=300.0),
    "RELAY_BATCH_SIZE": env.int("OUTBOX_RELAY_BATCH_SIZE", default=100),
    # After commit: "background" (a relay thread per process, batching), "inline" (in the
    # committing thread, before the response), or "off" (only the sweep publishes).
    "RELAY_AFTER_COMMIT": env.str("OUTBOX_RELAY_AFTER_COMMIT", default="background"),
    # Published outbox rows and processed-event records older than this are pruned.
    "RETENTION": parse_duration(env.str("EVENT_RETENTION", default="14d")),
}

# The committed AsyncAPI catalog of the events: the compatibility contract (eventbus.checks).
EVENT_CATALOG = {
    "PATH": BASE_DIR / "docs" / "events" / "asyncapi.json",
    "TITLE": "Event Shop events",
    "VERSION": "1.0.0",
}

# --- Shop and cart --------------------------------------------------------------------------
SHOP_CURRENCY = env.str("SHOP_CURRENCY", default="EUR")
# Who the shop is, in the admin's header and in the emails' header and footer.
SHOP_NAME = env.str("SHOP_NAME", default="Event Shop")
SHOP_LOGO_URL = env.str("SHOP_LOGO_URL", default="")  # absolute, or a path under SITE_URL
SHOP_CONTACT_EMAIL = env.str("SHOP_CONTACT_EMAIL", default="")  # default: the sender's
SHOP_ADDRESS = env.str("SHOP_ADDRESS", default="")
# PostgreSQL text search configuration (the catalog's language: stemming and stop words).
SHOP_SEARCH_CONFIG = env.str("SHOP_SEARCH_CONFIG", default="english")
# Widths (px) of the product image renditions made with Pillow for srcset (never upscaled).
SHOP_IMAGE_WIDTHS = (160, 320, 480)
CART_MAX_QUANTITY = env.int("CART_MAX_QUANTITY", default=10)
# How long a product may be served from the cache at most (a change forgets it at once).
CATALOG_CACHE_SECONDS = env.int("CATALOG_CACHE_SECONDS", default=300)
CART_MAX_LINES = env.int("CART_MAX_LINES", default=50)
# Adds per user (or client address) and period; DRF's rate syntax ("120/min").
CART_ADD_THROTTLE_RATE = env.str("CART_ADD_THROTTLE_RATE", default="120/min")
# How long the answer to a write with an Idempotency-Key is replayed to its retries.
IDEMPOTENCY_KEY_TTL: timedelta = parse_duration(env.str("IDEMPOTENCY_KEY_TTL", default="24h"))
# Double opt-in of a guest's reminder address: confirmation emails per address and per
# client (DRF's rate syntax), and how long the email's link works.
CART_CONFIRMATION_RATE_PER_ADDRESS = env.str("CART_CONFIRMATION_RATE_PER_ADDRESS", default="3/day")
CART_CONFIRMATION_RATE_PER_CLIENT = env.str("CART_CONFIRMATION_RATE_PER_CLIENT", default="10/hour")
CART_CONFIRMATION_LINK_MAX_AGE: timedelta = parse_duration(
    env.str("CART_CONFIRMATION_LINK_MAX_AGE", default="3d")
)
# Guest carts nobody touched for this long are deleted with their reminders (checked-out
# carts stay: they are orders), and so are expired sessions; hourly (beat or
# `manage.py prune_stale_carts`). Keep it above REMINDER_LINK_MAX_AGE.
CART_RETENTION: timedelta = parse_duration(env.str("CART_RETENTION", default="30d"))

# --- Reminders ------------------------------------------------------------------------------
REMINDER_DELAY: timedelta = parse_duration(env.str("REMINDER_DELAY", default="24h"))
REMINDER_SERIES: list[timedelta] = [
    parse_duration(step) for step in env.list("REMINDER_SERIES", default=[])
] or [REMINDER_DELAY]
# The mailto: target of the List-Unsubscribe header (default: the sender's address).
REMINDER_UNSUBSCRIBE_MAILTO = env.str("REMINDER_UNSUBSCRIBE_MAILTO", default="")
REMINDER_LINK_MAX_AGE: timedelta = parse_duration(env.str("REMINDER_LINK_MAX_AGE", default="14d"))
# Sending controls (notifications/controls.py; its system check refuses a malformed value).
# At most one reminder per address in this period, across carts ("0": no cap).
_cap = env.str("REMINDER_FREQUENCY_CAP", default="16h").strip()
REMINDER_FREQUENCY_CAP: timedelta | None = None if _cap in ("", "0") else parse_duration(_cap)
# "21:00-08:00" in TIME_ZONE: a reminder due inside is sent at their end ("": none).
REMINDER_QUIET_HOURS = env.str("REMINDER_QUIET_HOURS", default="")
# Carts worth less than this (in stock, in SHOP_CURRENCY) get no reminder.
REMINDER_MIN_CART_VALUE = env.str("REMINDER_MIN_CART_VALUE", default="0")
# An order placed this long after a reminder was sent or its link opened counts as recovered.
REMINDER_ATTRIBUTION_WINDOW: timedelta = parse_duration(
    env.str("REMINDER_ATTRIBUTION_WINDOW", default="5d")
)
# Discount per series step, "2:10%" or "1:5%,2:10%": that step's email carries a unique,
# single-use code valid for REMINDER_DISCOUNT_VALID_FOR.
REMINDER_DISCOUNTS = env.str("REMINDER_DISCOUNTS", default="")
REMINDER_DISCOUNT_VALID_FOR: timedelta = parse_duration(
    env.str("REMINDER_DISCOUNT_VALID_FOR", default="7d")
)

# --- Metrics (core/metrics.py) -------------------------------------------------------------
# prometheus_client's multiprocess mode: every process (gunicorn workers, Celery prefork
# children, relay_events, consume_events) writes its samples to files here and /metrics sums
# them. prometheus_client reads the variable itself, so it is exported before anything imports
# it; child processes inherit it. The process launcher empties it at start (bin/serve); ""
# turns multiprocess mode off (each process then shows only its own samples).
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default=str(VAR_DIR / "metrics"))
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_MULTIPROC_DIR
else:
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
# Who may scrape /metrics: "Authorization: Bearer <METRICS_TOKEN>", or a client address in
# one of these networks. Never list a load balancer's network: every public request would
# come from it.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])

# --- Traces (core/tracing.py) ----------------------------------------------------------------
# OpenTelemetry, off unless an exporter is named: "otlp" (OTLP over HTTP; the exporter reads
# OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS, _TIMEOUT and the rest itself) or "console". Setting
# an OTLP endpoint alone is enough. The sampler (OTEL_TRACES_SAMPLER) and the resource
# (OTEL_RESOURCE_ATTRIBUTES) are the SDK's own variables; OTEL_SDK_DISABLED=true turns it off.
_OTLP_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="") or env.str(
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", default=""
)
TRACING = {
    "EXPORTER": env.str("OTEL_TRACES_EXPORTER", default="otlp" if _OTLP_ENDPOINT else "none"),
    "SERVICE_NAME": env.str("OTEL_SERVICE_NAME", default="event-shop"),
    # Probes and scrapes would be most of the traces: no request span for them.
    "EXCLUDED_URLS": env.str(
        "OTEL_PYTHON_DJANGO_EXCLUDED_URLS", default="/healthz,/metrics,/static/,/media/"
    ),
}

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.request_id.RequestIdLogFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "botocore": {"level": "WARNING"},
        # django-axes logs every login at INFO; lockouts are warnings.
        "axes": {"level": "WARNING"},
        "celery": {"level": "INFO"},
        # One line per periodic task every few seconds drowns the interesting ones.
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
    },
}
