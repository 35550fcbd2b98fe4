"""Settings for a live server process started by the tests (see tests/live.py).

The environment chooses the database (DATABASE_URL, made for the server by
tests/support/databases.py), the push backend and its retention, so one test can start a
server whose channels keep only a few messages, or several servers sharing one Redis and
one database, and the enabled transports.
"""

import os
from pathlib import Path

from tests.settings import *  # noqa: F403
from thywill_server.settings import database

DATABASES = {"default": database(os.environ["DATABASE_URL"])}

PUSH_OPTIONS = {
    "capacity": int(os.environ.get("THYWILL_TEST_CAPACITY", "1000")),
    "max_age": float(os.environ.get("THYWILL_TEST_MAX_AGE", "3600")),
}
if os.environ.get("THYWILL_TEST_REDIS_URL"):
    THYWILL_COMPONENTS = {
        "push": {
            "BACKEND": "thywill.push.redis.RedisPushBackend",
            "OPTIONS": {
                **PUSH_OPTIONS,
                "url": os.environ["THYWILL_TEST_REDIS_URL"],
                "key_prefix": os.environ["THYWILL_TEST_REDIS_PREFIX"],
                # Short, so a test sees a dead server's lock lapse and Redis faults fast.
                "lock_lease": 3.0,
                "socket_timeout": 2.0,
                "socket_connect_timeout": 1.0,
            },
        },
    }
else:
    THYWILL_COMPONENTS = {
        "push": {
            "BACKEND": "thywill.push.locmem.LocMemPushBackend",
            "OPTIONS": PUSH_OPTIONS,
        },
    }
THYWILL_LIMITS = {
    "MAX_MESSAGE_BYTES": 64 * 1024,
    "LONGPOLL_TIMEOUT": float(os.environ.get("THYWILL_TEST_LONGPOLL_TIMEOUT", "25")),
    "SSE_KEEPALIVE": float(os.environ.get("THYWILL_TEST_SSE_KEEPALIVE", "15")),
    "PRESENCE_TTL": float(os.environ.get("THYWILL_TEST_PRESENCE_TTL", "60")),
    "MAX_STREAM_BYTES": int(os.environ.get("THYWILL_TEST_MAX_STREAM_BYTES", "8388608")),
    "AUTH_TIMEOUT": float(os.environ.get("THYWILL_TEST_AUTH_TIMEOUT", "10")),
}
THYWILL_TRANSPORTS = os.environ.get(
    "THYWILL_TEST_TRANSPORTS", "websocket,sse,longpoll"
).split(",")
THYWILL_RESUME = os.environ.get("THYWILL_TEST_RESUME") == "1"
THYWILL_SHARE_CONNECTIONS = os.environ.get("THYWILL_TEST_SHARE", "1") == "1"
THYWILL_HOOKS = {"PATH": str(Path(__file__).parent / "apps" / "hooks"), "RELOAD": False}

# The site's URLs and a view that pushes (tests/apps/live_urls.py).
ROOT_URLCONF = "tests.apps.live_urls"

# Metrics, when a test gives the scraper's token (and PROMETHEUS_MULTIPROC_DIR).
if os.environ.get("THYWILL_TEST_METRICS_TOKEN"):
    THYWILL_METRICS = {"ENABLED": True, "TOKEN": os.environ["THYWILL_TEST_METRICS_TOKEN"]}

# The deployment self-test, for its browser tests (tests/e2e/test_selftest.py).
THYWILL_SELFTEST = True

# The inspector (thywill.inspector), when a test turns it on.
if os.environ.get("THYWILL_TEST_INSPECTOR") == "1":
    THYWILL_APPLICATIONS = {
        **THYWILL_APPLICATIONS,  # noqa: F405
        "inspector": {"BACKEND": "thywill.inspector.application.InspectorApplication"},
    }
