"""Settings of the thywill demo site: a Django project that uses thywill as any would.

With no environment variables set you get the embedded default: DEBUG on, SQLite in
``db.sqlite3``, the in-memory push backend, one process, no services. Production values come
from the environment:

    SECRET_KEY            required when DEBUG is off
    DEBUG                 "1"/"true" or "0"/"false" (default: on)
    ALLOWED_HOSTS         comma-separated host names
    CSRF_TRUSTED_ORIGINS  comma-separated origins, e.g. https://example.com
    DATABASE_URL          e.g. mysql://user:pass@db.example.com:3306/thywill

Every THYWILL_* setting is described in documentation/settings.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_flag(name: str, default: bool) -> bool:
    """A boolean from the environment: 1/true/yes/on or 0/false/no/off."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1 or 0).")


def env_list(name: str) -> list[str]:
    """A comma-separated list from the environment."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def database(url: str) -> dj_database_url.DBConfig:
    """Django's settings of the database at ``url`` (a DATABASE_URL), tuned per engine.

    CONN_MAX_AGE stays 0 (dj-database-url's default): under ASGI, persistent connections
    leak (Django's documentation); use the database's own pooling instead. MySQL/MariaDB
    keeps Django's defaults: the utf8mb4 character set and READ COMMITTED isolation.
    """
    config = dj_database_url.parse(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers run beside the writer; the timeout rides out short write locks.
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        }
    return config


DEBUG = env_flag("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY in the environment when DEBUG is off.")
    SECRET_KEY = "django-insecure-thywill-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",  # first, so that runserver serves ASGI (and so thywill's streams)
    "django.contrib.admin",  # /admin/: thywill's clients and groups (operations.md)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "thywill",
    "thywill_server",  # the start page's template and stylesheet
    "thywill_apps.echo",
    "thywill_apps.chat",
    "thywill_apps.tictactoe",
]

# For the pages (bootstrap, health). Send, long-poll and SSE skip Django's handler and this
# chain (thywill/edge/direct.py): Django's MiddlewareMixin runs each of these in a thread.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "thywill_server.urls"
ASGI_APPLICATION = "thywill_server.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": database(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

SESSION_COOKIE_SAMESITE = "Lax"

# THYWILL_LOG_FORMAT=json: one JSON object a line (for a log collector), with thywill's
# client_id, code and trace_id as fields; anything else: plain text lines.
LOG_FORMAT = "json" if os.environ.get("THYWILL_LOG_FORMAT") == "json" else "plain"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "thywill.log.formatters.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
        }
    },
    "loggers": {
        "thywill": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# --- thywill --------------------------------------------------------------------------
# Components, by role. Each names a class by dotted path and its keyword OPTIONS; a role
# left out keeps its default (shown here). Checked at start-up (ids thywill.E001-E004).
THYWILL_COMPONENTS = {
    # Where messages to clients are stored, ordered and waited on; capacity is per
    # channel, max_age in seconds. The in-memory backend serves one process; with
    # REDIS_URL set (redis:// or rediss://), every process sharing that Redis works as one.
    "push": (
        {
            "BACKEND": "thywill.push.redis.RedisPushBackend",
            "OPTIONS": {
                "url": os.environ["REDIS_URL"],
                "key_prefix": os.environ.get("THYWILL_REDIS_PREFIX", "thywill"),
                "capacity": 1000,
                "max_age": 3600,
            },
        }
        if os.environ.get("REDIS_URL")
        else {
            "BACKEND": "thywill.push.locmem.LocMemPushBackend",
            "OPTIONS": {"capacity": 1000, "max_age": 3600},
        }
    ),
    # Durable records (clients), on one of DATABASES.
    "database": {
        "BACKEND": "thywill.database.orm.OrmDatabase",
        "OPTIONS": {"alias": "default"},
    },
    # Where rejected input and handler failures are reported.
    "log": {
        "BACKEND": "thywill.log.stdlib.StdlibLog",
        "OPTIONS": {"logger": "thywill"},
    },
}

# Applications, by the name used in /thywill/<name>/init/. Each package must also be in
# INSTALLED_APPS, for its static files (and models, if it has any).
THYWILL_APPLICATIONS = {
    "echo": {"BACKEND": "thywill_apps.echo.application.EchoApplication", "OPTIONS": {}},
    "chat": {"BACKEND": "thywill_apps.chat.application.ChatApplication", "OPTIONS": {}},
    "tictactoe": {
        "BACKEND": "thywill_apps.tictactoe.application.TicTacToeApplication",
        "OPTIONS": {},
    },
}
# The application served at /thywill/init/.
THYWILL_DEFAULT_APPLICATION = "echo"

# The global pipeline: pipes around every event of every application, outermost first.
# Each is a dotted path or {"BACKEND", "OPTIONS"}; documentation/settings.md lists the
# built-in ones. TracePipe logs a line per event at DEBUG on "thywill.trace". The rate
# limit's burst stays above MAX_BATCH: the client flushes a queue of offline sends in
# batches of up to MAX_BATCH at once.
THYWILL_PIPELINE = [
    {"BACKEND": "thywill.pipeline.pipes.TracePipe", "OPTIONS": {"level": "DEBUG"}},
    {
        "BACKEND": "thywill.pipeline.pipes.RateLimitPipe",
        "OPTIONS": {"rate": 20, "per": 1.0, "burst": 200},
    },
]

# Hook scripts: every .py file in PATH runs pre_<event>/post_<event> functions around
# events (documentation/hooks.md). RELOAD (default: DEBUG) reloads changed scripts;
# their shared state is on Redis when REDIS_URL is set (the push backend's), else in the
# "default" cache; CACHE names another cache.
THYWILL_HOOKS = {
    "PATH": os.environ.get("THYWILL_HOOKS_PATH") or None,
}

# Transports the client may use, in the order it tries them.
THYWILL_TRANSPORTS = ["websocket", "sse", "longpoll"]

# Sizes and timings; every key and default is in documentation/settings.md.
THYWILL_LIMITS = {
    "MAX_MESSAGE_BYTES": 64 * 1024,
    "LONGPOLL_TIMEOUT": 25,
    "SSE_KEEPALIVE": 15,
}

# Serve /static/ from the ASGI application itself (fine for one process; behind nginx
# in production, collect the files with `manage.py collectstatic` and set this off).
THYWILL_SERVE_STATIC = env_flag("THYWILL_SERVE_STATIC", True)
