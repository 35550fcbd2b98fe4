"""Settings for a live server process started by the tests (see tests/live.py).

The environment chooses the retention of the push backend, so one test can start a
server whose channels keep only a few messages.
"""

import os
from pathlib import Path

from tests.settings import *  # noqa: F403

THYWILL_COMPONENTS = {
    "push": {
        "BACKEND": "thywill_server.push.locmem.LocMemPushBackend",
        "OPTIONS": {
            "capacity": int(os.environ.get("THYWILL_TEST_CAPACITY", "1000")),
            "max_age": float(os.environ.get("THYWILL_TEST_MAX_AGE", "3600")),
        },
    },
}
THYWILL_LIMITS = {
    "MAX_MESSAGE_BYTES": 64 * 1024,
    "LONGPOLL_TIMEOUT": float(os.environ.get("THYWILL_TEST_LONGPOLL_TIMEOUT", "25")),
    "SSE_KEEPALIVE": float(os.environ.get("THYWILL_TEST_SSE_KEEPALIVE", "15")),
}
THYWILL_HOOKS = {"PATH": str(Path(__file__).parent / "apps" / "hooks"), "RELOAD": False}
