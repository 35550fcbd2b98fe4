"""Tokens never reach a URL, so never an access log: a real server's log after a whole
session on every transport holds no trace of the client's token."""

from __future__ import annotations

import json
import re
import urllib.parse

import pytest

from tests.live import LiveServer
from tests.support.http_client import ThywillHttpClient, count_events, data_of, delivered

pytestmark = pytest.mark.live


def traces(token: str) -> list[str]:
    """What of a token would show in a log: the token, URL-encoded or not, and its
    signature, the part that no other token shares (``payload:timestamp:signature``)."""
    signature = token.rsplit(":", 1)[-1]
    return [token, urllib.parse.quote(token, safe=""), signature]


def session(tab: ThywillHttpClient) -> None:
    """A client's whole life on every transport: its page, long-polls, an SSE stream,
    a WebSocket, sends over HTTP and over the socket, a resume, and its bye."""
    tab.bootstrap()
    assert tab.longpoll(wait=False).messages == []
    tab.send("by long-poll")
    assert data_of(tab.receive(1)) == ["by long-poll"]

    tab.send("by sse")
    events = tab.sse_events(until=count_events("message", 1))
    assert [e.json()["data"] for e in events if e.event == "message"] == ["by sse"]

    with tab.websocket() as socket:
        frames = tab.ws_frames(socket, lambda f: bool(f) and f[0]["type"] == "open")
        tab.ws_send(socket, "by websocket")
        frames = tab.ws_frames(socket, lambda f: len(delivered(f)) >= 1)
        assert delivered(frames) == ["by websocket"]

    # Resumed from the cursor, as a reconnection does: nothing new, nothing again.
    assert tab.longpoll(wait=False).messages == []
    with tab.websocket() as socket:
        frames = tab.ws_frames(socket, lambda f: bool(f))
        assert [f["type"] for f in frames] == ["open"]

    bye = tab.http.post(
        tab.endpoint("bye"),
        content=json.dumps({"token": tab.token}).encode(),
        headers=tab.send_headers(),
    )
    assert bye.status_code == 204, bye.text


def test_the_token_is_nowhere_in_the_access_log(live_factory) -> None:
    """After a whole session, the server's output (its access log and every log line)
    names each endpoint the client used but holds no trace of its token.

    The access log is the server's own: Daphne's (NCSA lines on stdout) or uvicorn's
    (``uvicorn.access``), written with the rest of the server's output to its log file.
    Both write an HTTP request's query string; uvicorn writes a WebSocket's too (Daphne
    only its path). A token in any of those URLs would show here.
    """
    # A log of this session alone. Daphne writes an HTTP request's line when its answer
    # is complete: a stream that carried one byte of messages ends, and is written too.
    live: LiveServer = live_factory(THYWILL_TEST_MAX_STREAM_BYTES="1")
    with ThywillHttpClient(live.url) as tab:
        session(tab)
        token = tab.token
    log = live.log()
    for endpoint in ("init", "longpoll", "sse", "send", "websocket", "bye"):
        path = f"/thywill/{endpoint}/"
        assert re.search(rf"\b(GET|POST|WSCONNECT(ING)?|WebSocket) {path}", log), (
            f"no access-log entry for {path}:\n{log}"
        )
    for trace in traces(token):
        assert trace not in log, f"the token shows in the server's log:\n{log}"
