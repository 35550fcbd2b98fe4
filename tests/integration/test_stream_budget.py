"""A slow reader cannot make a server hold more than MAX_STREAM_BYTES for one stream: a
WebSocket or SSE stream that carried that much is ended by the server, and the client
resumes from its cursor on a new one, with nothing lost or repeated (issue 14)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from websockets.exceptions import ConnectionClosed

from tests.live import LiveServer
from tests.support.http_client import ThywillHttpClient

pytestmark = pytest.mark.live

BUDGET = 100_000
"""MAX_STREAM_BYTES of the test's server."""

MESSAGES = 24
SIZE = 10_000
"""Each echo is one batch of a little over SIZE bytes: the stream is spent after about
ten of them."""


@pytest.fixture(scope="module")
def budget_live(live_factory: Callable[..., LiveServer]) -> LiveServer:
    return live_factory(THYWILL_TEST_MAX_STREAM_BYTES=str(BUDGET))


def echoes(tab: ThywillHttpClient) -> list[str]:
    """Send MESSAGES numbered texts of SIZE characters, one request each, so that each
    echo is a batch of its own; the texts sent."""
    texts = [f"{n:03d}" + "x" * (SIZE - 3) for n in range(MESSAGES)]
    for text in texts:
        assert tab.send(text)[0]["status"] == "ok"
    return texts


def test_a_websocket_that_carried_its_budget_is_closed_and_resumes(
    budget_live: LiveServer,
) -> None:
    with ThywillHttpClient(budget_live.url) as tab:
        tab.bootstrap()
        received: list[str] = []
        carried = 0
        with tab.websocket() as connection:
            tab.ws_frames(connection, lambda frames: bool(frames))  # open
            texts = echoes(tab)  # not read while they are written: a slow reader
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    frame_text = connection.recv(timeout=10)
                    frame = json.loads(frame_text)
                    assert frame["type"] == "batch", frame
                    carried += len(frame_text.encode())
                    received += [m["data"] for m in frame["messages"]]
                    tab.cursor = frame["cursor"]
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        # the server stopped at its budget, the batch that crossed it included
        assert BUDGET <= carried < BUDGET + 2 * SIZE
        assert len(received) < MESSAGES
        with tab.websocket() as connection:  # resume from the cursor of the last batch
            frames = tab.ws_frames(
                connection,
                lambda frames: (
                    sum(len(f.get("messages", ())) for f in frames)
                    >= MESSAGES - len(received)
                ),
                timeout=10,
            )
        received += [m["data"] for f in frames for m in f.get("messages", ())]
    assert received == texts


def test_an_sse_stream_that_carried_its_budget_ends_and_resumes(
    budget_live: LiveServer,
) -> None:
    with ThywillHttpClient(budget_live.url) as tab:
        tab.bootstrap()
        received: list[str] = []
        with tab.sse_stream(timeout=15) as stream:
            events = stream.events()
            assert next(events).event == "open"
            texts = echoes(tab)  # not read while they are written: a slow reader
            for event in events:
                assert event.event == "message", event
                received.append(event.json()["data"])
                tab.cursor = event.id or tab.cursor
            assert stream.ended_by == "server"
        assert SIZE * (BUDGET // SIZE) <= SIZE * len(received) < BUDGET + 2 * SIZE
        assert len(received) < MESSAGES
        rest = tab.sse_events(last_event_id=tab.cursor, until=MESSAGES - len(received) + 1)
        received += [e.json()["data"] for e in rest if e.event == "message"]
    assert received == texts
