"""A rolling restart: two processes on one Redis behind round robin, each stopped with
SIGTERM and started again in turn while a client sends and reads all along. No
acknowledged message is lost or repeated (issue 14, item 7)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.live import LiveServer
from tests.support.cluster import Cluster, start_cluster, wait_for
from tests.support.http_client import ThywillHttpClient, ThywillHttpError, Transport

pytestmark = pytest.mark.live

EXIT_BOUND = 10.0
"""The documented bound on a process's exit after SIGTERM, in seconds."""


@pytest.fixture(scope="module")
def cluster(live_factory: Callable[..., LiveServer], redis_url: str) -> Cluster:
    return start_cluster(live_factory, redis_url)


@pytest.fixture
def pair(cluster: Cluster) -> Iterator[tuple[LiveServer, LiveServer]]:
    cluster.ensure_running()
    a, b = cluster.servers
    yield a, b


@pytest.fixture(params=["longpoll", "sse"])
def transport(request: pytest.FixtureRequest) -> Transport:
    value: Transport = request.param
    return value


class Sender(threading.Thread):
    """Sends 0, 1, 2... one at a time, each to the next server, until stopped; a send
    that fails is sent again, same seq, to the next one (what thywill.js does)."""

    def __init__(self, tab: ThywillHttpClient, urls: list[str]) -> None:
        super().__init__(daemon=True)
        self.tab, self.urls = tab, urls
        self.stop = threading.Event()
        self.acknowledged: list[int] = []
        self.statuses: list[str] = []
        self.retries = 0

    def run(self) -> None:
        turn = 0
        while not self.stop.is_set():
            n = len(self.acknowledged)
            while True:  # until this message is settled
                self.tab.use_server(self.urls[turn % 2])
                turn += 1
                try:
                    [result] = self.tab.send(n, seqs=[n + 1])
                    break
                except (httpx.TransportError, ThywillHttpError):
                    self.retries += 1
                    time.sleep(0.05)
            self.statuses.append(result["status"])
            if result["status"] in ("ok", "duplicate"):  # handled, now or before
                self.acknowledged.append(n)
            time.sleep(0.01)


class Reader(threading.Thread):
    """Reads the client's messages, each connection to the next server, from its cursor."""

    def __init__(self, tab: ThywillHttpClient, urls: list[str], transport: Transport):
        super().__init__(daemon=True)
        self.tab, self.urls, self.transport = tab, urls, transport
        self.stop = threading.Event()
        self.got: list[Any] = []

    def run(self) -> None:
        turn = 0
        while not self.stop.is_set():
            self.tab.use_server(self.urls[turn % 2])
            turn += 1
            try:
                if self.transport == "longpoll":
                    poll = self.tab.longpoll(timeout=10)
                    self.got.extend(m["data"] for m in poll.messages)
                    continue
                with self.tab.sse_stream(timeout=10) as stream:
                    for event in stream.events():
                        if event.id is not None:
                            self.tab.cursor = event.id
                        if event.event == "message":
                            self.got.append(event.json()["data"])
                        if self.stop.is_set():
                            return
            except (httpx.TransportError, ThywillHttpError):
                time.sleep(0.05)


def test_rolling_restart_loses_and_repeats_no_acknowledged_message(pair, transport):
    """Each process in turn: SIGTERM (exits within the bound), started again; the
    client's acknowledged messages all arrive, once each, in order."""
    a, b = pair
    urls = [a.url, b.url]
    with ThywillHttpClient(a.url) as tab:
        tab.bootstrap()
        reader_tab = tab.another_connection()
        sender, reader = Sender(tab, urls), Reader(reader_tab, urls, transport)
        sender.start()
        reader.start()
        exits = []
        try:
            for server in (a, b):
                time.sleep(1.5)
                exits.append(server.terminate())
                server.start()
            time.sleep(1.5)
        finally:
            sender.stop.set()
            sender.join(timeout=20)
        acknowledged = list(sender.acknowledged)
        delivered = wait_for(lambda: len(reader.got) >= len(acknowledged), 15)
        reader.stop.set()
        reader.join(timeout=15)
        reader_tab.close()

    print(f"exits after SIGTERM: {exits}, {len(acknowledged)} sent")  # shown with -s
    assert not sender.is_alive() and not reader.is_alive()
    assert len(acknowledged) > 20
    assert delivered
    assert reader.got == acknowledged
    assert all(took < EXIT_BOUND for took in exits)
