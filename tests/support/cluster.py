"""Several live server processes sharing one Redis and one database file."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from tests.live import LiveServer
from tests.redis.conftest import new_prefix

PRESENCE_TTL = 2.0
"""The presence lease of cluster servers, in seconds: short, so tests see it lapse."""


class Cluster:
    """Two server processes on one Redis prefix and one database file."""

    def __init__(self, servers: list[LiveServer], database: Path) -> None:
        self.servers = servers
        self.database = database

    def ensure_running(self) -> None:
        for server in self.servers:
            if server.process is None or server.process.poll() is not None:
                server.start()

    def departures(self, client_id: str) -> int:
        """How many disconnect events the testkit application recorded for a client."""
        with sqlite3.connect(self.database, timeout=10) as db:
            [(count,)] = db.execute(
                "SELECT COUNT(*) FROM apps_departure WHERE client_id = ?", (client_id,)
            )
        return int(count)


def start_cluster(
    live_factory: Callable[..., LiveServer], redis_url: str, workdir: Path, **env: str
) -> Cluster:
    database = workdir / "shared.sqlite3"
    env = {
        "THYWILL_TEST_REDIS_URL": redis_url,
        "THYWILL_TEST_REDIS_PREFIX": new_prefix(),
        "DATABASE_URL": f"sqlite:///{database}",
        "THYWILL_TEST_PRESENCE_TTL": str(PRESENCE_TTL),
        "THYWILL_TEST_LONGPOLL_TIMEOUT": "5",
        **env,
    }
    return Cluster([live_factory(**env), live_factory(**env)], database)


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll a condition of the test's own (not the server) until it holds or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()
