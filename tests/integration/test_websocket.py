"""The WebSocket transport on a live server (Daphne and uvicorn), with a Python client."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from tests.live import LiveServer
from tests.support.http_client import ThywillHttpClient, delivered

pytestmark = pytest.mark.live

Frames = Sequence[dict[str, Any]]


def until_delivered(count: int, answers: int = 0) -> Callable[[Frames], bool]:
    """At least ``count`` messages delivered and ``answers`` send answers read."""

    def enough(frames: Frames) -> bool:
        return len(delivered(frames)) >= count and len(answers_in(frames)) >= answers

    return enough


def answers_in(frames: Frames) -> list[dict[str, Any]]:
    """The answers to send frames, in the order they came: each ``sent`` frame's (without
    its type), and each that a ``batch`` frame carried (``sentInBatch``)."""
    return [
        {k: v for k, v in frame.items() if k != "type"}
        if frame["type"] == "sent"
        else frame["sent"]
        for frame in frames
        if frame["type"] == "sent" or "sent" in frame
    ]


def closed_with(connection: ClientConnection) -> tuple[list[dict[str, Any]], int, str]:
    """Frames read until the server closed, and its close code and reason.

    Daphne 4 sends no close reason (it drops the ASGI ``reason``); uvicorn sends the error
    code as the reason. The error frame before the close carries the code on both.
    """
    frames = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            frames.append(json.loads(connection.recv(timeout=5)))
    assert closed.value.rcvd is not None
    return frames, closed.value.rcvd.code, closed.value.rcvd.reason


def reason_for(server: LiveServer, code: str) -> str:
    """The close reason the server under test sends with a refusal (see closed_with)."""
    return "" if server.env["THYWILL_TEST_SERVER"] == "daphne" else code


@pytest.fixture
def tab(live_url: str):
    with ThywillHttpClient(live_url) as tab:
        tab.bootstrap()
        yield tab


@pytest.mark.parametrize("sent_in_batch", [False, True], ids=["sent-frames", "in-batch"])
def test_echo_round_trip_of_200_in_order_exactly_once(tab, sent_in_batch):
    """200 messages in 20 send frames, sent without waiting, come back once each, in
    order, with their results in order, whether the answers come as frames of their own
    or inside batches."""
    with tab.websocket(sent_in_batch=sent_in_batch) as ws:
        assert tab.ws_frames(ws, lambda f: len(f) >= 1) == [{"type": "open", "cursor": ""}]
        texts = [f"m{i}" for i in range(200)]
        for start in range(0, 200, 10):
            tab.ws_send(ws, *texts[start : start + 10])
        frames = tab.ws_frames(ws, until_delivered(200, answers=20), timeout=20)
    assert delivered(frames) == texts
    results = [r for answer in answers_in(frames) for r in answer["results"]]
    assert results == [{"seq": n, "status": "ok"} for n in range(1, 201)]
    if not sent_in_batch:
        assert not any("sent" in frame for frame in frames)


def test_an_answer_rides_in_the_batch_that_delivers_its_echo(tab):
    """With ``sentInBatch``, a send whose echo comes back to its client is answered inside
    the batch frame of the echo: one frame, not two."""
    with tab.websocket(sent_in_batch=True) as ws:
        tab.ws_frames(ws, lambda f: len(f) >= 1)
        for n in range(1, 4):
            tab.ws_send(ws, f"echo {n}")
            [frame] = tab.ws_frames(ws, until_delivered(1, answers=1))
            assert frame["type"] == "batch"
            assert frame["sent"] == {"results": [{"seq": n, "status": "ok"}]}
            assert delivered([frame]) == [f"echo {n}"]


def test_answers_without_a_delivery_come_alone_and_in_order(tab):
    """With ``sentInBatch``, a send that delivers nothing to its client (out of order, or
    refused as a whole) is answered by a ``sent`` frame of its own, in its turn among the
    answers that ride in batches."""
    with tab.websocket(sent_in_batch=True) as ws:
        tab.ws_frames(ws, lambda f: len(f) >= 1)
        tab.ws_send(ws, "first")
        ws.send(json.dumps({"type": "send", "messages": [{"seq": 5, "data": "late"}]}))
        ws.send(json.dumps({"type": "send", "messages": []}))
        tab.ws_send(ws, "second")
        frames = tab.ws_frames(ws, until_delivered(2, answers=4))
    answers = answers_in(frames)
    assert answers[0] == {"results": [{"seq": 1, "status": "ok"}]}
    assert answers[1]["results"][0]["status"] == "out_of_order"
    assert answers[1]["results"][0]["expected"] == 2
    assert answers[2]["status"] == 400
    assert answers[2]["error"]["code"] == "bad_message"
    assert answers[3] == {"results": [{"seq": 2, "status": "ok"}]}
    assert delivered(frames) == ["first", "second"]
    alone = [frame for frame in frames if frame["type"] == "sent"]
    assert len(alone) == 2  # the out-of-order one and the refused one


def test_reconnect_resumes_from_the_cursor(tab):
    """What was sent while no socket was open arrives on the next one, and nothing twice."""
    with tab.websocket() as ws:
        tab.ws_send(ws, "before")
        tab.ws_frames(ws, until_delivered(1, answers=1))
    tab.send("while away")
    with tab.websocket() as ws:
        tab.ws_send(ws, "after")
        frames = tab.ws_frames(ws, until_delivered(2, answers=1))
    assert delivered(frames) == ["while away", "after"]
    # The same cursor resumes long-poll too: nothing is left.
    assert tab.longpoll(wait=False).messages == []


def test_a_resent_send_frame_is_a_duplicate(tab):
    """A send resent with the same seqs (over either transport) is not handled twice."""
    tab.send("by http")
    with tab.websocket() as ws:
        ws.send(json.dumps({"type": "send", "messages": [{"seq": 1, "data": "again"}]}))
        frames = tab.ws_frames(ws, lambda f: any(x["type"] == "sent" for x in f))
    assert [f for f in frames if f["type"] == "sent"] == [
        {"type": "sent", "results": [{"seq": 1, "status": "duplicate"}]}
    ]
    assert delivered(frames) == ["by http"]


@pytest.mark.parametrize(
    ("payload", "code", "status"),
    [
        pytest.param("{not json", "bad_json", 400, id="not-json"),
        pytest.param(
            json.dumps({"type": "x", "pad": "y" * 70_000}), "too_large", 413, id="oversize"
        ),
        pytest.param(
            '{"type": "subscribe", "channel": "client:x"}',
            "bad_frame",
            400,
            id="unknown-type",
        ),
        pytest.param(b"\x00binary", "bad_frame", 400, id="binary"),
    ],
)
def test_bad_frames_close_with_their_code_and_others_go_on(
    live, live_url, tab, payload, code, status
):
    """A bad frame: an error frame, then close 4000+status; another client is untouched."""
    with ThywillHttpClient(live_url) as other:
        other.bootstrap()
        with other.websocket() as bystander, tab.websocket() as ws:
            other.ws_send(bystander, "before")
            other.ws_frames(bystander, until_delivered(1, answers=1))
            ws.send(payload)
            frames, close_code, reason = closed_with(ws)
            assert [f["type"] for f in frames] == ["open", "error"]
            assert frames[1]["error"]["code"] == code
            assert (close_code, reason) == (4000 + status, reason_for(live, code))
            other.ws_send(bystander, "after")
            assert delivered(other.ws_frames(bystander, until_delivered(1, answers=1))) == [
                "after"
            ]


@pytest.mark.parametrize(
    ("options", "code"),
    [
        pytest.param(
            {"token": "eyJmb3JnZWQiOnRydWV9:forged:signature"},
            "bad_token",
            id="forged-token",
        ),
        pytest.param(
            {"cookie": "sessionid=not-the-right-one"},
            "session_mismatch",
            id="other-session",
        ),
        pytest.param({"origin": "http://evil.example"}, "bad_origin", id="wrong-origin"),
        pytest.param({"origin": None}, "bad_origin", id="no-origin"),
    ],
)
def test_refused_connections_close_4403(live, tab, options, code):
    """A forged token, another session or a foreign origin: error frame, close 4403."""
    with tab.websocket(**options) as ws:
        frames, close_code, reason = closed_with(ws)
    assert [f["type"] for f in frames] == ["error"]
    assert frames[0]["error"]["code"] == code
    assert (close_code, reason) == (4403, reason_for(live, code))


def test_a_token_in_the_url_closes_4400_bad_request(live, tab):
    """A token in the query string is refused, auth frame or not, and never logged."""
    start = len(live.log())
    with tab.websocket(query={"token": tab.token}) as ws:
        frames, close_code, reason = closed_with(ws)
    assert [f["type"] for f in frames] == ["error"]
    assert frames[0]["error"] == {
        "code": "bad_request",
        "message": "The token goes in the X-Thywill-Token header (WebSocket: in the auth "
        "frame), never in the URL.",
    }
    assert (close_code, reason) == (4400, reason_for(live, "bad_request"))
    assert "Rejected /thywill/websocket/: bad_request" in live.log()[start:]


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(json.dumps({"type": "send", "messages": []}), id="a-send-frame"),
        pytest.param('{"type": "auth", "token": null}', id="no-token"),
        pytest.param(
            '{"type": "auth", "token": "t", "sentInBatch": "yes"}', id="bad-sent-in-batch"
        ),
        pytest.param(b"\x00binary", id="binary"),
    ],
)
def test_a_wrong_first_frame_closes_4400_bad_request(live, tab, first):
    """Any first frame but the auth frame: an error frame, close 4400 bad_request, and
    nothing delivered before it."""
    tab.send("not for this socket")
    with tab.websocket(auth=False) as ws:
        ws.send(first)
        frames, close_code, reason = closed_with(ws)
    assert [f["type"] for f in frames] == ["error"]
    assert frames[0]["error"]["code"] == "bad_request"
    assert (close_code, reason) == (4400, reason_for(live, "bad_request"))


@pytest.fixture(scope="module")
def short_auth(live_factory: Callable[..., LiveServer]) -> LiveServer:
    """A server that waits half a second for a socket's auth frame."""
    return live_factory(THYWILL_TEST_AUTH_TIMEOUT="0.5")


def test_a_socket_without_auth_frame_closes_4408_after_the_bound(short_auth):
    """A socket that sends nothing gets nothing, and is closed 4408 auth_timeout once
    AUTH_TIMEOUT has passed; one whose auth frame comes in time is served."""
    with ThywillHttpClient(short_auth.url) as tab:
        tab.bootstrap()
        tab.send("waiting")
        with tab.websocket(auth=False) as ws:
            frames, close_code, reason = closed_with(ws)
        assert [f["type"] for f in frames] == ["error"]
        assert frames[0]["error"]["code"] == "auth_timeout"
        assert (close_code, reason) == (4408, reason_for(short_auth, "auth_timeout"))
        with tab.websocket() as ws:
            assert delivered(tab.ws_frames(ws, until_delivered(1))) == ["waiting"]


@pytest.fixture(scope="module")
def no_websocket(live_factory: Callable[..., LiveServer]) -> LiveServer:
    """A server whose THYWILL_TRANSPORTS leaves WebSocket out."""
    return live_factory(THYWILL_TEST_TRANSPORTS="sse,longpoll")


def test_disabled_transport_closes_4400(no_websocket):
    """With websocket not enabled, the socket closes 4400 bad_transport; init refuses it."""
    with ThywillHttpClient(no_websocket.url) as tab:
        tab.bootstrap()
        with tab.websocket() as ws:
            frames, close_code, reason = closed_with(ws)
        assert (close_code, reason) == (4400, reason_for(no_websocket, "bad_transport"))
        assert frames[0]["error"]["code"] == "bad_transport"
        response = tab.http.get("/thywill/init/", params={"transport": "websocket"})
        assert (response.status_code, response.json()["error"]["code"]) == (
            400,
            "bad_transport",
        )


def test_unknown_websocket_path_closes_4404(live, tab):
    """A socket to any other path closes 4404 not_found."""
    tab.config["endpoints"] = {**tab.config["endpoints"], "websocket": "/thywill/nope/"}
    with tab.websocket() as ws:
        _, close_code, reason = closed_with(ws)
    assert (close_code, reason) == (4404, reason_for(live, "not_found"))
