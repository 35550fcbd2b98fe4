"""Several live server processes sharing one Redis and one database."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.live import LiveServer
from tests.redis.conftest import new_prefix

PRESENCE_TTL = 2.0
"""The presence lease of cluster servers, in seconds: short, so tests see it lapse."""


class Cluster:
    """Two server processes on one Redis prefix and one database."""

    def __init__(self, servers: list[LiveServer]) -> None:
        self.servers = servers

    def ensure_running(self) -> None:
        for server in self.servers:
            if server.process is None or server.process.poll() is not None:
                server.start()

    def departures(self, client_id: str) -> int:
        """How many disconnect events the testkit application recorded for a client."""
        return self.servers[0].database.count("apps_departure", client_id=client_id)


def start_cluster(
    live_factory: Callable[..., LiveServer], redis_url: str, **env: str
) -> Cluster:
    """Servers A and B: B on A's database."""
    env = {
        "THYWILL_TEST_REDIS_URL": redis_url,
        "THYWILL_TEST_REDIS_PREFIX": new_prefix(),
        "THYWILL_TEST_PRESENCE_TTL": str(PRESENCE_TTL),
        "THYWILL_TEST_LONGPOLL_TIMEOUT": "5",
        **env,
    }
    a = live_factory(**env)
    return Cluster([a, live_factory(database=a.database, **env)])


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll a condition of the test's own (not the server) until it holds or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()
