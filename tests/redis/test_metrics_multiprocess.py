"""Metrics of two server processes on one Redis, summed through one multiproc directory.

Each scrape is parsed with prometheus_client's own parser; the figures asserted are the
changes a round trip, a refusal and a reset make, seen from either process.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.live import LiveServer
from tests.support.cluster import Cluster, start_cluster, wait_for
from tests.support.http_client import ThywillHttpClient, data_of

pytestmark = pytest.mark.live

TOKEN = secrets.token_urlsafe(24)
CAPACITY = 3
"""Messages a channel keeps: a few sends past it make a reset."""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def cluster(
    live_factory: Callable[..., LiveServer],
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Cluster:
    """Servers A and B with metrics on, sharing a multiproc directory (empty at start)."""
    directory: Path = tmp_path_factory.mktemp("prometheus")
    return start_cluster(
        live_factory,
        redis_url,
        PROMETHEUS_MULTIPROC_DIR=str(directory),
        THYWILL_TEST_METRICS_TOKEN=TOKEN,
        THYWILL_TEST_CAPACITY=str(CAPACITY),
    )


@pytest.fixture
def pair(cluster: Cluster) -> Iterator[tuple[LiveServer, LiveServer]]:
    cluster.ensure_running()
    a, b = cluster.servers
    yield a, b


def scrape(server: LiveServer) -> Samples:
    """Every sample of the server's metrics endpoint, by name and labels."""
    response = httpx.get(
        f"{server.url}/thywill/metrics/",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5.0,
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when the series does not exist yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_a_round_trip_across_the_two_processes_moves_the_metrics_both_report(pair):
    """A send handled by B and delivered by A shows in the scrape of either process."""
    a, b = pair
    before = scrape(a)
    with ThywillHttpClient(a.url) as tab:
        tab.bootstrap()
        tab.use_server(b.url)
        assert tab.send("ping") == [{"seq": 1, "status": "ok"}]
        assert tab.send("ping", seqs=[1]) == [{"seq": 1, "status": "duplicate"}]
        tab.use_server(a.url)
        assert data_of(tab.longpoll().messages) == ["ping"]
    # One host's figures, whichever process answers (the background work of both, the
    # presence sweeps, adds round trips and lapses between two scrapes: not asserted).
    for after in (scrape(a), scrape(b)):

        def moved(name: str, after=after, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        assert moved("thywill_sends_total", outcome="ok") == 1
        assert moved("thywill_sends_total", outcome="duplicate") == 1
        message = {"application": "echo", "event": "message"}
        assert moved("thywill_handler_seconds_count", **message) == 1
        assert moved("thywill_pipeline_seconds_count", **message) == 1
        # the bootstrap's connect event, run on A
        connect = {"application": "echo", "event": "connect"}
        assert moved("thywill_pipeline_seconds_count", **connect) == 1
        assert moved("thywill_delivery_seconds_count", transport="longpoll") == 1
        assert 0 <= moved("thywill_delivery_seconds_sum", transport="longpoll") < 5
        assert moved("thywill_presence_leases_total") == 1
        assert moved("thywill_push_round_trip_seconds_count", backend="redis") >= 5
        assert value(after, "thywill_push_outage", backend="redis") == 0
        assert moved("thywill_push_errors_total", backend="redis") == 0


def test_a_refused_send_counts_as_refused(pair):
    """A send with a forged token is refused (403) and counted once, on either process."""
    a, b = pair
    before = scrape(b)
    with ThywillHttpClient(a.url) as tab:
        tab.bootstrap()
        tab.use_server(b.url)
        response = tab.post_send({"token": "forged", "messages": [{"seq": 1, "data": "x"}]})
        assert response.status_code == 403
    after = scrape(a)
    refused = value(after, "thywill_sends_total", outcome="refused")
    assert refused - value(before, "thywill_sends_total", outcome="refused") == 1
    assert value(after, "thywill_sends_total", outcome="ok") == value(
        before, "thywill_sends_total", outcome="ok"
    )


def test_a_reset_is_counted_by_reason(pair):
    """A cursor whose history was trimmed gets a reset, counted as the private
    channel's lost history."""
    a, b = pair
    before = scrape(a)
    with ThywillHttpClient(a.url) as tab:
        tab.bootstrap()
        tab.send("first")
        assert data_of(tab.longpoll().messages) == ["first"]
        tab.use_server(b.url)
        tab.send(*(f"more {n}" for n in range(CAPACITY + 1)))  # trims past the cursor
        result = tab.longpoll()
        assert result.reset is not None
    after = scrape(b)
    name, reason = "thywill_resets_total", "private_history_lost"
    assert value(after, name, reason=reason) - value(before, name, reason=reason) == 1
    assert value(after, name, reason="group_history_lost") == value(
        before, name, reason="group_history_lost"
    )


def test_an_sse_stream_is_counted_while_open_by_every_process(pair):
    """An SSE stream open on B counts on A's scrape, and no longer once it closed; the
    message it delivers is one delivery over SSE."""
    a, b = pair
    name, labels = "thywill_connections", {"transport": "sse", "application": "echo"}
    delivery = "thywill_delivery_seconds_count"
    before = scrape(a)
    assert value(before, name, **labels) == 0
    with ThywillHttpClient(b.url) as tab:
        tab.bootstrap()
        with tab.sse_stream(timeout=10) as stream:
            events = stream.events()
            assert next(events).event == "open"  # the connection is counted by now
            assert value(scrape(a), name, **labels) == 1
            with tab.another_connection() as sender:
                sender.send("streamed")
            assert next(events).event == "message"
            # (counted once the server took the event and asks the stream for more)
            assert wait_for(
                lambda: (
                    value(scrape(a), delivery, transport="sse")
                    == value(before, delivery, transport="sse") + 1
                ),
                timeout=5,
            )
    assert wait_for(lambda: value(scrape(a), name, **labels) == 0, timeout=5)


def test_a_websocket_round_trip_is_counted_by_every_process(pair):
    """A WebSocket on B: counted open on A's scrape, its send and its delivery too."""
    a, b = pair
    name, labels = "thywill_connections", {"transport": "websocket", "application": "echo"}
    before = scrape(a)
    with ThywillHttpClient(b.url) as tab:
        tab.bootstrap()
        with tab.websocket() as socket:
            tab.ws_frames(socket, lambda frames: bool(frames))  # open
            assert value(scrape(a), name, **labels) == 1
            tab.ws_send(socket, "over the socket")
            tab.ws_frames(socket, lambda frames: any(f["type"] == "batch" for f in frames))
    after = scrape(a)
    delivery = "thywill_delivery_seconds_count"
    moved = value(after, delivery, transport="websocket") - value(
        before, delivery, transport="websocket"
    )
    assert moved == 1
    ok = value(after, "thywill_sends_total", outcome="ok")
    assert ok - value(before, "thywill_sends_total", outcome="ok") == 1
    assert wait_for(lambda: value(scrape(a), name, **labels) == 0, timeout=5)


def test_the_metrics_refuse_a_scraper_without_the_token(pair):
    """The endpoint of a live server answers 403 to a wrong bearer token."""
    a, _ = pair
    response = httpx.get(
        f"{a.url}/thywill/metrics/",
        headers={"Authorization": "Bearer not-the-token"},
        timeout=5.0,
    )
    assert response.status_code == 403
    assert TOKEN not in a.log()


def test_a_stopped_process_leaves_its_counters_and_takes_its_live_gauges(
    pair, live_factory
):
    """SIGTERM: a third process C, on the same Redis and directory, removes its live
    gauge files as it stops; what it counted stays in the sums A answers."""
    a, b = pair
    shared = (
        "THYWILL_TEST_REDIS_URL",
        "THYWILL_TEST_REDIS_PREFIX",
        "THYWILL_TEST_PRESENCE_TTL",
        "THYWILL_TEST_LONGPOLL_TIMEOUT",
        "THYWILL_TEST_CAPACITY",
        "THYWILL_TEST_METRICS_TOKEN",
        "PROMETHEUS_MULTIPROC_DIR",
    )
    c = live_factory(database=a.database, **{name: b.env[name] for name in shared})
    directory = Path(b.env["PROMETHEUS_MULTIPROC_DIR"])
    with ThywillHttpClient(a.url) as tab:
        tab.bootstrap()
        tab.use_server(c.url)
        assert tab.send("counted by C") == [{"seq": 1, "status": "ok"}]
    assert c.process is not None
    pid = c.process.pid
    assert list(directory.glob(f"gauge_livesum_{pid}.db"))
    before = value(scrape(a), "thywill_sends_total", outcome="ok")
    assert before >= 1
    c.terminate()  # raises unless it exits by itself, before SIGKILL
    assert not list(directory.glob(f"gauge_live*_{pid}.db"))
    assert value(scrape(a), "thywill_sends_total", outcome="ok") == before
