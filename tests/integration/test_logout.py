"""A logout on a live server (Daphne and uvicorn) ends its session's clients: new
requests are refused with session_ended, and streams already open end within
PRESENCE_TTL / 3."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from tests.live import LiveServer
from tests.support.http_client import ThywillHttpClient, ThywillHttpError

pytestmark = pytest.mark.live

PRESENCE_TTL = 1.5
BOUND = PRESENCE_TTL / 3
"""How soon after a logout an open stream must end."""
MARGIN = 1.0
"""What a loaded test machine may add to BOUND."""


@pytest.fixture(scope="module")
def server(live_factory: Callable[..., LiveServer]) -> LiveServer:
    """A server whose presence leases, and so session checks, come around quickly."""
    return live_factory(THYWILL_TEST_PRESENCE_TTL=str(PRESENCE_TTL))


@pytest.fixture
def tab(server: LiveServer) -> Iterator[ThywillHttpClient]:
    with ThywillHttpClient(server.url) as tab:
        tab.bootstrap()
        yield tab


def log_out(tab: ThywillHttpClient) -> ThywillHttpClient:
    """Log the tab's session out from another connection of its browser, which is
    returned: the tab itself keeps the old session cookie, as a stolen copy would."""
    browser = tab.another_connection()
    response = browser.http.post("/logout/")
    assert (response.status_code, response.text) == (200, "logged out")
    return browser


def refused(call: Callable[[], object]) -> tuple[int, str | None]:
    with pytest.raises(ThywillHttpError) as caught:
        call()
    return caught.value.status, caught.value.code


def sse_refused(tab: ThywillHttpClient) -> tuple[int, str | None]:
    def open_stream() -> None:
        with tab.sse_stream(timeout=5):
            pass

    return refused(open_stream)


def closed_with(ws: ClientConnection, timeout: float) -> tuple[list[dict], int]:
    """The frames read until the server closed (within ``timeout``), and its code."""
    frames = []
    deadline = time.monotonic() + timeout
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            frames.append(json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0))))
    assert closed.value.rcvd is not None
    return frames, closed.value.rcvd.code


def test_every_endpoint_refuses_a_logged_out_session(tab):
    """After a logout, send, long-poll, SSE and WebSocket all refuse the session's
    clients with session_ended: with the old cookie, and from the browser that logged
    out (whose cookie is gone)."""
    assert tab.send("before") == [{"seq": 1, "status": "ok"}]
    browser = log_out(tab)
    for client in (tab, browser):
        assert refused(lambda c=client: c.send("after")) == (403, "session_ended")
        assert refused(lambda c=client: c.longpoll(wait=False)) == (403, "session_ended")
        assert sse_refused(client) == (403, "session_ended")
        with client.websocket() as ws:
            frames, code = closed_with(ws, 5)
        assert [(f["type"], f["error"]["code"]) for f in frames] == [
            ("error", "session_ended")
        ]
        assert code == 4403
    browser.close()


def test_open_streams_end_within_a_third_of_the_presence_ttl(tab):
    """An SSE stream and a WebSocket open at the logout both end within
    PRESENCE_TTL / 3: the stream just ends, the socket closes 4403 session_ended."""
    reader = tab.another_connection()
    with tab.websocket() as ws, reader.sse_stream(timeout=10) as stream:
        assert json.loads(ws.recv(timeout=5))["type"] == "open"
        events = stream.events()
        assert next(events).event == "open"
        log_out(tab).close()
        ended = time.monotonic()
        assert [e.event for e in events] == []
        assert stream.ended_by == "server"
        sse_took = time.monotonic() - ended
        frames, code = closed_with(ws, BOUND + MARGIN)
        ws_took = time.monotonic() - ended
    reader.close()
    assert [(f["type"], f["error"]["code"]) for f in frames if f["type"] == "error"] == [
        ("error", "session_ended")
    ]
    assert code == 4403
    assert sse_took < BOUND + MARGIN
    assert ws_took < BOUND + MARGIN


def test_another_session_goes_on(tab, server):
    """A logout ends only its own session: another browser's tab still sends."""
    with ThywillHttpClient(server.url) as other:
        other.bootstrap()
        log_out(tab).close()
        assert other.send("still here") == [{"seq": 1, "status": "ok"}]
        assert refused(lambda: tab.send("gone")) == (403, "session_ended")
