"""Settings for the in-process test suite (pytest-django creates the test database)."""

from thywill_server.settings import *  # noqa: F403

THYWILL_APPLICATIONS = {
    "echo": {"BACKEND": "thywill_apps.echo.application.EchoApplication", "OPTIONS": {}},
    "chat": {"BACKEND": "thywill_apps.chat.application.ChatApplication", "OPTIONS": {}},
    "testkit": {"BACKEND": "tests.apps.testkit.TestkitApplication", "OPTIONS": {}},
    "rooms": {"BACKEND": "tests.apps.rooms.RoomsApplication", "OPTIONS": {}},
    "tictactoe": {
        "BACKEND": "thywill_apps.tictactoe.application.TicTacToeApplication",
        "OPTIONS": {},
    },
}
INSTALLED_APPS = [*INSTALLED_APPS, "tests.apps"]  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The in-process suite runs on the in-memory backend whatever REDIS_URL says; the Redis
# backend has its own tests (tests/redis/).
THYWILL_COMPONENTS = {
    "push": {"BACKEND": "thywill_server.push.locmem.LocMemPushBackend", "OPTIONS": {}},
}

# The tests send bursts far above the site's default rate limit; tests of the limit set
# their own.
THYWILL_PIPELINE = [
    {"BACKEND": "thywill_server.pipeline.pipes.TracePipe", "OPTIONS": {"level": "DEBUG"}},
]
