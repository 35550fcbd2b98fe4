"""Settings for the in-process test suite (pytest-django creates the test database).

The test database is SQLite in memory, or a database of this run's own on the MySQL server
that THYWILL_TEST_DATABASE_URL names (``./dev test-mysql``).
"""

from django.core.exceptions import ImproperlyConfigured

from tests.support.databases import (
    CHARSET,
    COLLATION,
    TEST_DATABASE_URL,
    is_mysql,
    run_database_name,
)
from thywill_server.settings import *  # noqa: F403
from thywill_server.settings import database

# Whatever DATABASE_URL says: the suite's database is chosen here alone.
DATABASES = {"default": database(TEST_DATABASE_URL or "sqlite://:memory:")}
if TEST_DATABASE_URL:
    if not is_mysql(TEST_DATABASE_URL):
        raise ImproperlyConfigured(
            f"THYWILL_TEST_DATABASE_URL={TEST_DATABASE_URL!r}: use a mysql:// URL."
        )
    DATABASES["default"]["TEST"] = {
        "NAME": run_database_name(TEST_DATABASE_URL),
        "CHARSET": CHARSET,
        "COLLATION": COLLATION,
    }

THYWILL_APPLICATIONS = {
    "echo": {"BACKEND": "thywill_apps.echo.application.EchoApplication", "OPTIONS": {}},
    "chat": {"BACKEND": "thywill_apps.chat.application.ChatApplication", "OPTIONS": {}},
    "testkit": {"BACKEND": "tests.apps.testkit.TestkitApplication", "OPTIONS": {}},
    "rooms": {"BACKEND": "tests.apps.rooms.RoomsApplication", "OPTIONS": {}},
    "tictactoe": {
        "BACKEND": "thywill_apps.tictactoe.application.TicTacToeApplication",
        "OPTIONS": {},
    },
    "reloads": {"BACKEND": "tests.apps.reloads.ReloadsApplication", "OPTIONS": {}},
}
INSTALLED_APPS = [*INSTALLED_APPS, "tests.apps"]  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The in-process suite runs on the in-memory backend whatever REDIS_URL says; the Redis
# backend has its own tests (tests/redis/).
THYWILL_COMPONENTS = {
    "push": {"BACKEND": "thywill.push.locmem.LocMemPushBackend", "OPTIONS": {}},
}

# The tests send bursts far above the site's default rate limit; tests of the limit set
# their own.
THYWILL_PIPELINE = [
    {"BACKEND": "thywill.pipeline.pipes.TracePipe", "OPTIONS": {"level": "DEBUG"}},
]

# Most tests check what issuing a client does at once (its record, its connect event);
# the tests of reloads turn resuming on (THYWILL_RESUME's default).
THYWILL_RESUME = False
# gc.freeze() in the test process would keep every test's start-up objects for good (and
# trips Hypothesis's check of registered Randoms at the end); tests/unit/test_gc_freeze.py
# turns it on where it is the subject.
THYWILL_GC_FREEZE = False
