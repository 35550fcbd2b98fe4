"""Graceful shutdown: SIGTERM tells every open stream to reconnect, and the server exits
within the documented bound (documentation/deployment.md), on Daphne and on uvicorn."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.live import LiveServer
from tests.support.http_client import ThywillHttpClient

pytestmark = pytest.mark.live

EXIT_BOUND = 10.0
"""The documented bound on a server's exit after SIGTERM, in seconds."""

MARGIN = 3.0
"""What the test asks below the bound, so a slow machine still passes honestly."""


class Watch(threading.Thread):
    """Run one client's connection on a thread; ``ready`` once it is open, ``outcome``
    what its end looked like."""

    def __init__(self, target: Callable[[Watch], Any]) -> None:
        super().__init__(daemon=True)
        self.target = target
        self.ready = threading.Event()
        self.outcome: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.outcome = self.target(self)
        except BaseException as exc:  # noqa: BLE001  (reported by the test)
            self.error = exc


def watch_websocket(tab: ThywillHttpClient) -> Watch:
    def run(watch: Watch) -> Any:
        with tab.websocket() as connection:
            assert json.loads(connection.recv(timeout=10))["type"] == "open"
            watch.ready.set()
            try:
                while True:
                    connection.recv(timeout=30)
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd is not None else None

    return Watch(run)


def watch_sse(tab: ThywillHttpClient) -> Watch:
    def run(watch: Watch) -> Any:
        with tab.sse_stream(timeout=30) as stream:
            kinds = []
            for event in stream.events():
                kinds.append(event.event)
                watch.ready.set()
            return kinds, stream.ended_by

    return Watch(run)


def watch_longpoll(tab: ThywillHttpClient) -> Watch:
    def run(watch: Watch) -> Any:
        tab.longpoll(wait=False)
        watch.ready.set()
        return tab.longpoll(timeout=30).messages

    return Watch(run)


def test_sigterm_tells_every_stream_to_reconnect_and_exits_promptly(
    live_factory: Callable[..., LiveServer],
) -> None:
    """An open WebSocket is closed with 1012, an SSE stream ends, a waiting long-poll
    answers what it has (nothing); the process exits well within the bound."""
    server = live_factory(THYWILL_TEST_LONGPOLL_TIMEOUT="60")
    tabs = [ThywillHttpClient(server.url) for _ in range(3)]
    try:
        for tab in tabs:
            tab.bootstrap()
        watches = [
            watch_websocket(tabs[0]),
            watch_sse(tabs[1]),
            watch_longpoll(tabs[2]),
        ]
        for watch in watches:
            watch.start()
        for watch in watches:
            assert watch.ready.wait(10), watch.error
        time.sleep(0.5)  # the long-poll is waiting by now

        took = server.terminate()
        for watch in watches:
            watch.join(timeout=10)
    finally:
        for tab in tabs:
            tab.close()

    print(f"exit after SIGTERM: {took:.2f} s")  # the measure, shown with -s
    websocket, sse, longpoll = (w.outcome for w in watches)
    assert [w.error for w in watches] == [None, None, None]
    # 1012 Service Restart; Daphne's autobahn sends no code below 3000 but 1000.
    server_name = server.env["THYWILL_TEST_SERVER"]
    assert websocket == (1000 if server_name == "daphne" else 1012)
    assert sse == (["open"], "server")
    assert longpoll == []
    assert took < EXIT_BOUND - MARGIN
    assert "Waiting for background tasks" not in server.log()
