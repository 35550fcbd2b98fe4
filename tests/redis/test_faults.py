"""Redis going away and coming back, under two live server processes.

Each test runs its own redis-server (tests/support/redis_server.py), kills it and starts it
again on the same port, so the shared Redis of the other tests is never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import require
from tests.live import LiveServer
from tests.support.cluster import Cluster, start_cluster, wait_for
from tests.support.http_client import ThywillHttpClient, ThywillHttpError, data_of
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.live


def private_cluster(
    live_factory: Callable[..., LiveServer], workdir: Path, *, persistent: bool
) -> Iterator[tuple[RedisServer, Cluster]]:
    require(RedisServer.available(), "the redis-server program")
    redis_server = RedisServer(workdir, persistent=persistent)
    redis_server.start()
    try:
        cluster = start_cluster(live_factory, redis_server.url)
        yield redis_server, cluster
    finally:
        redis_server.kill()


@pytest.fixture(scope="module")
def durable(live_factory, tmp_path_factory) -> Iterator[tuple[RedisServer, Cluster]]:
    """Two servers on a Redis of their own that writes every change to disk."""
    yield from private_cluster(
        live_factory, tmp_path_factory.mktemp("durable"), persistent=True
    )


@pytest.fixture(scope="module")
def volatile(live_factory, tmp_path_factory) -> Iterator[tuple[RedisServer, Cluster]]:
    """Two servers on a Redis of their own that keeps nothing on disk."""
    yield from private_cluster(
        live_factory, tmp_path_factory.mktemp("volatile"), persistent=False
    )


def log_count(server: LiveServer, text: str) -> int:
    return server.log().count(text)


def test_a_redis_restart_loses_no_acknowledged_message(durable):
    """While Redis is down: clear 503s, servers up, one log line each; after: all there."""
    redis_server, cluster = durable
    a, b = cluster.servers
    with ThywillHttpClient(a.url) as tab:
        tab.bootstrap()
        acknowledged = []
        for n in range(10):
            tab.use_server((a, b)[n % 2].url)
            assert tab.send(n) == [{"seq": n + 1, "status": "ok"}]
            acknowledged.append(n)
        errors_before = [log_count(s, "Push backend unavailable") for s in (a, b)]

        redis_server.kill()
        refused = []
        for n in range(10, 16):
            tab.use_server((a, b)[n % 2].url)
            with pytest.raises(ThywillHttpError) as error:
                tab.send(n, seqs=[11])  # the same batch, retried as the client does
            refused.append((error.value.status, error.value.code))
        assert refused == [(503, "unavailable")] * 6
        for server in (a, b):
            with pytest.raises(ThywillHttpError) as error:
                tab.use_server(server.url)
                tab.longpoll(wait=False)
            assert (error.value.status, error.value.code) == (503, "unavailable")
            assert httpx.get(f"{server.url}/thywill/health/", timeout=5).status_code == 503
            assert server.process is not None and server.process.poll() is None
        # Logged once per process for the whole outage, not once per request.
        errors_during = [log_count(s, "Push backend unavailable") for s in (a, b)]
        assert [d - e for d, e in zip(errors_during, errors_before, strict=True)] == [1, 1]

        redis_server.start()
        tab.use_server(b.url)
        assert wait_for(lambda: _send_succeeds(tab, "after", 11), 15)
        assert tab.send("later") == [{"seq": 12, "status": "ok"}]
        tab.use_server(a.url)
        tab.cursor = ""
        messages = tab.receive(12, timeout=10)
        assert data_of(messages) == [*acknowledged, "after", "later"]
        assert tab.resets == []
        for server in (a, b):
            assert wait_for(lambda s=server: "available again" in s.log(), 10)


def _send_succeeds(tab: ThywillHttpClient, data: str, seq: int) -> bool:
    try:
        return tab.send(data, seqs=[seq]) == [{"seq": seq, "status": "ok"}]
    except ThywillHttpError:
        return False


def _renumbered_send_succeeds(tab: ThywillHttpClient, data: str) -> bool:
    try:
        return tab.send(data)[0]["status"] == "ok"
    except ThywillHttpError:
        return False


def test_an_open_stream_ends_cleanly_when_redis_goes(durable):
    """An SSE stream open when Redis dies ends (the client reconnects), no error event."""
    redis_server, cluster = durable
    a, _ = cluster.servers
    with ThywillHttpClient(a.url) as tab:
        tab.bootstrap()
        events = []
        with tab.sse_stream(timeout=20) as stream:
            for event in stream.events():
                events.append(event.event)
                if event.event == "open":
                    redis_server.kill()
            ended_by = stream.ended_by
        redis_server.start()
    assert events == ["open"]
    assert ended_by == "server"


def test_a_redis_that_lost_everything_gives_an_explicit_reset(volatile):
    """A Redis restarted empty: the tab's old cursor gets a reset, never a silent gap."""
    redis_server, cluster = volatile
    a, b = cluster.servers
    with ThywillHttpClient(a.url) as tab:
        tab.bootstrap()
        tab.send("before")
        assert data_of(tab.receive(1)) == ["before"]
        redis_server.kill()
        redis_server.start()
        tab.use_server(b.url)
        # Redis forgot the client's send record too: the client renumbers from the seq
        # the server expects (out_of_order), as thywill.js does.
        assert wait_for(lambda: _renumbered_send_succeeds(tab, "after"), 15)
        result = tab.longpoll()
        assert result.reset is not None
        assert data_of(result.messages) == ["after"]
