"""The inspector with two server processes sharing one Redis: the page gets each
process's snapshot, and a send handled by the other process shows in that one's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.live import LiveServer
from tests.support.cluster import Cluster, start_cluster
from tests.support.http_client import ThywillHttpClient, data_of
from tests.support.staff import create_staff_user, log_in

# On every ASGI server: Daphne starts a process's watcher with its first request,
# uvicorn with the lifespan.
pytestmark = pytest.mark.live

BOUND = 10.0


@pytest.fixture(scope="module")
def cluster(live_factory: Callable[..., LiveServer], redis_url: str) -> Cluster:
    """Servers A and B with the inspector on, sharing the test Redis and a database."""
    return start_cluster(live_factory, redis_url, THYWILL_TEST_INSPECTOR="1")


def process_of(server: LiveServer) -> str:
    """The pid part of the process id a server's snapshots carry."""
    assert server.process is not None
    return f":{server.process.pid}"


def test_every_process_reports_and_the_other_ones_sends_are_counted(
    cluster: Cluster,
) -> None:
    """An inspector on A gets snapshots from A and from B (its process id each); an echo
    tab's three sends handled by B grow B's messages in by three, within a bound."""
    cluster.ensure_running()
    a, b = cluster.servers
    create_staff_user(a, "root")
    latest: dict[str, dict[str, Any]] = {}

    with ThywillHttpClient(a.url, app="inspector") as page:
        log_in(page.http, "root")
        page.bootstrap()

        def seen(*servers: LiveServer) -> Callable[[Any], bool]:
            def check(messages: Any) -> bool:
                for data in data_of(messages):
                    if isinstance(data, dict) and data.get("type") == "inspector.snapshot":
                        latest[data["process"]] = data
                return all(any(p.endswith(process_of(s)) for p in latest) for s in servers)

            return check

        with ThywillHttpClient(b.url) as tab:
            # B's first request: under Daphne (no lifespan) it starts B's watcher, which
            # finds the inspector already open.
            tab.bootstrap()
            page.receive(seen(a, b), timeout=BOUND)
            [b_process] = [p for p in latest if p.endswith(process_of(b))]
            before = latest[b_process]["messagesIn"]
            for n in range(3):
                assert tab.send({"text": str(n)})[0]["status"] == "ok"

        def grown(messages: Any) -> bool:
            seen(a, b)(messages)
            return latest[b_process]["messagesIn"] >= before + 3

        page.receive(grown, timeout=BOUND)
        assert latest[b_process]["messagesIn"] >= before + 3
        assert len(latest) == 2  # A and B, each once
