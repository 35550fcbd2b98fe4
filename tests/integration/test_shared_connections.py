"""Shared connections against real server processes: several clients of one browser
session on one long-poll, SSE stream or WebSocket (documentation/protocol.md, "Shared
connections")."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as websocket_connect

from tests.support.http_client import (
    CONNECT_TIMEOUT,
    SseEvent,
    SseParser,
    ThywillHttpClient,
    data_of,
)

pytestmark = pytest.mark.live

TOKENS_HEADER = "X-Thywill-Tokens"
TIMEOUT = 10.0
"""The bound of every network wait of these tests."""

Tabs = Callable[..., list[ThywillHttpClient]]


@pytest.fixture
def tabs(live_url: str) -> Iterator[Tabs]:
    """Make ``n`` echo tabs of one browser session (one cookie jar): ``n`` clients."""
    made: list[ThywillHttpClient] = []

    def make(n: int, app: str | None = None) -> list[ThywillHttpClient]:
        first = ThywillHttpClient(live_url, app=app)
        first.bootstrap()
        group = [first]
        for _ in range(n - 1):
            tab = first.another_connection()
            tab.bootstrap()
            group.append(tab)
        made.extend(group)
        assert len({tab.client_id for tab in group}) == n
        assert len({tab.http.cookies.get("sessionid") for tab in group}) == 1
        return group

    yield make
    for tab in made:
        tab.close()


@pytest.fixture
def stranger(live_url: str) -> Iterator[ThywillHttpClient]:
    """A tab of another browser session."""
    with ThywillHttpClient(live_url) as tab:
        tab.bootstrap()
        yield tab


# --- helpers --------------------------------------------------------------------------


def longpoll(
    leader: ThywillHttpClient,
    tokens: Sequence[str],
    cursors: Sequence[str],
    *,
    wait: bool = True,
    headers: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> httpx.Response:
    """A shared long-poll on the leader's connection (its cookie jar)."""
    params = [("cursor", cursor) for cursor in cursors]
    if not wait:
        params.append(("wait", "0"))
    return leader.http.get(
        leader.endpoint("longpoll"),
        params=params,
        headers={TOKENS_HEADER: " , ".join(tokens), **(headers or {})},
        timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT),
    )


def poll_all(tabs: Sequence[ThywillHttpClient], counts: Sequence[int]) -> list[list[Any]]:
    """Shared long-polls from the tabs' cursors until each tab got ``counts`` messages;
    each tab's cursor follows its batches. Every client is in every answer, in order."""
    got: list[list[Any]] = [[] for _ in tabs]
    deadline = time.monotonic() + TIMEOUT
    while any(len(g) < c for g, c in zip(got, counts, strict=True)):
        assert time.monotonic() < deadline, f"not within {TIMEOUT}s; got {got!r}"
        response = longpoll(tabs[0], [t.token for t in tabs], [t.cursor for t in tabs])
        assert response.status_code == 200, response.text
        batches = response.json()["batches"]
        assert [b["client"] for b in batches] == [t.client_id for t in tabs]
        for tab, batch, mine in zip(tabs, batches, got, strict=True):
            assert batch["reset"] is None
            assert {m["channel"] for m in batch["messages"]} <= {tab.channel}
            mine.extend(data_of(batch["messages"]))
            tab.cursor = batch["cursor"]
    return got


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


@contextlib.contextmanager
def sse(
    leader: ThywillHttpClient,
    tokens: Sequence[str],
    cursors: Sequence[str],
    headers: dict[str, str] | None = None,
) -> Iterator[httpx.Response]:
    """A shared SSE stream on the leader's connection, closed on leaving."""
    with leader.http.stream(
        "GET",
        leader.endpoint("sse"),
        params=[("cursor", cursor) for cursor in cursors],
        headers={TOKENS_HEADER: ",".join(tokens), **(headers or {})},
        timeout=httpx.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT),
    ) as response:
        if response.is_error:
            response.read()
        yield response


class EventReader:
    """The events of one stream, read as far as a condition needs (bounded)."""

    def __init__(self, response: httpx.Response) -> None:
        self.chunks = response.iter_bytes()
        self.parser = SseParser()
        self.events: list[SseEvent] = []

    def until(self, condition: Callable[[list[SseEvent]], bool]) -> list[SseEvent]:
        """Every event so far, once ``condition`` holds or the stream ended."""
        deadline = time.monotonic() + TIMEOUT
        while not condition(self.events):
            assert time.monotonic() < deadline, f"not within {TIMEOUT}s: {self.events}"
            try:
                chunk = next(self.chunks)
            except StopIteration:
                break
            items = self.parser.feed(chunk)
            self.events += [e for e in items if isinstance(e, SseEvent)]
        return self.events

    def to_the_end(self) -> list[SseEvent]:
        """Every event, once the server ended the stream."""
        return self.until(lambda events: False)


def sse_got(
    events: Sequence[SseEvent], tabs: Sequence[ThywillHttpClient], *, follow: bool = True
) -> list[list[Any]]:
    """Each tab's messages in the ``batch`` events; with ``follow``, its cursor
    follows its batches."""
    got: list[list[Any]] = [[] for _ in tabs]
    for event in events:
        if event.event != "batch":
            continue
        batch = event.json()
        tab = tabs[batch["index"]]
        assert batch["client"] == tab.client_id
        assert {m["channel"] for m in batch["messages"]} <= {tab.channel}
        got[batch["index"]].extend(data_of(batch["messages"]))
        if follow:
            tab.cursor = batch["cursor"]
    return got


def enough(
    tabs: Sequence[ThywillHttpClient], counts: Sequence[int]
) -> Callable[[list[SseEvent]], bool]:
    """An ``until`` condition: each tab got at least its count of messages."""

    def check(events: list[SseEvent]) -> bool:
        got = sse_got(events, tabs, follow=False)
        return all(len(g) >= c for g, c in zip(got, counts, strict=True))

    return check


@contextlib.contextmanager
def websocket(
    leader: ThywillHttpClient,
    tokens: Sequence[Any],
    cursors: Sequence[str],
    *,
    sent_in_batch: bool = False,
) -> Iterator[ClientConnection]:
    """A shared WebSocket on the leader's cookies, its auth frame sent (asking for
    ``sentInBatch`` if told to, which a shared socket ignores)."""
    url = httpx.URL(leader.base_url.replace("http", "ws", 1) + leader.endpoint("websocket"))
    url = url.copy_with(params=[("cursor", cursor) for cursor in cursors])
    cookie = "; ".join(f"{name}={value}" for name, value in leader.http.cookies.items())
    with websocket_connect(
        str(url),
        origin=leader.base_url,  # type: ignore[arg-type]
        additional_headers={"Cookie": cookie},
        open_timeout=CONNECT_TIMEOUT,
        close_timeout=CONNECT_TIMEOUT,
    ) as connection:
        auth: dict[str, Any] = {"type": "auth", "tokens": list(tokens)}
        if sent_in_batch:
            auth["sentInBatch"] = True
        connection.send(json.dumps(auth))
        yield connection


def ws_send(connection: ClientConnection, tab: ThywillHttpClient, *datas: Any) -> None:
    """A send frame of ``tab`` on a shared socket, numbered on from its last seq."""
    messages = [{"seq": tab.last_seq + n, "data": d} for n, d in enumerate(datas, 1)]
    tab.last_seq += len(datas)
    frame = {"type": "send", "client": tab.client_id, "messages": messages}
    connection.send(json.dumps(frame))


def ws_frames(
    connection: ClientConnection, until: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """Frames until ``until`` holds (bounded)."""
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + TIMEOUT
    while not until(frames):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"not within {TIMEOUT}s; got {frames!r}")
        frames.append(json.loads(connection.recv(timeout=remaining)))
    return frames


def ws_got(frames: Sequence[dict[str, Any]], tabs: Sequence[ThywillHttpClient]):
    """Each tab's messages in the batch frames; its cursor follows its batches."""
    got: list[list[Any]] = [[] for _ in tabs]
    for frame in frames:
        if frame["type"] != "batch":
            continue
        tab = tabs[frame["index"]]
        assert frame["client"] == tab.client_id
        assert {m["channel"] for m in frame["messages"]} <= {tab.channel}
        got[frame["index"]].extend(data_of(frame["messages"]))
        tab.cursor = frame["cursor"]
    return got


def ws_closed(connection: ClientConnection) -> tuple[list[dict[str, Any]], int]:
    """Frames read until the server closed, and its close code."""
    frames = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            frames.append(json.loads(connection.recv(timeout=TIMEOUT)))
    assert closed.value.rcvd is not None
    return frames, closed.value.rcvd.code


def disconnect(tab: ThywillHttpClient) -> None:
    """End the client from the server (its process's ``thywill.disconnect``)."""
    response = httpx.post(f"{tab.base_url}/disconnect/{tab.client_id}/", timeout=TIMEOUT)
    assert response.status_code == 200


def nothing_left(tabs: Sequence[ThywillHttpClient]) -> None:
    """No tab has anything after its cursor (checked with single long-polls)."""
    for tab in tabs:
        result = tab.longpoll(wait=False)
        assert result.messages == [] and result.reset is None


# --- long-poll ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3])
def test_longpoll_each_client_gets_its_own_once_in_order(tabs: Tabs, n: int) -> None:
    """Each client gets exactly its own echoes, once, in order; resuming from the
    returned cursors loses and repeats nothing."""
    group = tabs(n)
    for i, tab in enumerate(group):
        tab.send(*[f"{i}-{k}" for k in range(i + 2)])
    first = poll_all(group, [i + 2 for i in range(n)])
    assert first == [[f"{i}-{k}" for k in range(i + 2)] for i in range(n)]

    group[-1].send("last-again")
    group[0].send("first-again")
    second = poll_all(group, [1] + [0] * (n - 2) + [1])
    assert second == [["first-again"]] + [[]] * (n - 2) + [["last-again"]]

    response = longpoll(
        group[0], [t.token for t in group], [t.cursor for t in group], wait=False
    )
    assert [b["messages"] for b in response.json()["batches"]] == [[]] * n
    nothing_left(group)


def test_longpoll_answers_when_any_client_gets_something(tabs: Tabs) -> None:
    """A waiting shared long-poll answers as soon as one client has a message."""
    a, b = tabs(2)
    with ThreadPoolExecutor(max_workers=1) as pool:
        started = time.monotonic()
        waiting = pool.submit(longpoll, a, [a.token, b.token], ["", ""])
        time.sleep(0.3)
        b.send("wake")
        response = waiting.result(timeout=TIMEOUT + 5)
    assert time.monotonic() - started < 5.0  # the server's long-poll timeout is 25 s
    batches = response.json()["batches"]
    assert [(x["client"], data_of(x["messages"])) for x in batches] == [
        (a.client_id, []),
        (b.client_id, ["wake"]),
    ]
    assert batches[0]["cursor"] == "" and batches[1]["cursor"]


# --- SSE ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3])
def test_sse_each_client_gets_its_own_once_in_order(tabs: Tabs, n: int) -> None:
    """An open event with every cursor, then a batch event per client with its own
    messages only; a stream from the last cursors gets exactly what came after."""
    group = tabs(n)
    for i, tab in enumerate(group):
        tab.send(f"{i}-before")
    tokens = [t.token for t in group]
    counts = [2] * n
    with sse(group[0], tokens, [t.cursor for t in group]) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = EventReader(response)
        events = reader.until(lambda e: len(e) >= 1)
        assert (events[0].event, events[0].json(), events[0].id) == (
            "open",
            {"cursors": [""] * n},
            None,
        )
        for i, tab in enumerate(group):
            tab.send(f"{i}-live")
        events = reader.until(enough(group, counts))
    got = sse_got(events, group)
    assert got == [[f"{i}-before", f"{i}-live"] for i in range(n)]
    assert all(e.id is None for e in events)

    group[1].send("resumed")
    cursors = [t.cursor for t in group]
    with sse(group[0], tokens, cursors) as response:
        events = EventReader(response).until(enough(group, [0, 1] + [0] * (n - 2)))
    assert events[0].json() == {"cursors": cursors}
    assert sse_got(events, group) == [[], ["resumed"]] + [[]] * (n - 2)
    nothing_left(group)


# --- WebSocket ------------------------------------------------------------------------


@pytest.mark.parametrize("sent_in_batch", [False, True], ids=["plain", "asking-inline"])
@pytest.mark.parametrize("n", [2, 3])
def test_websocket_each_client_gets_its_own_and_sends_as_itself(
    tabs: Tabs, n: int, sent_in_batch: bool
) -> None:
    """Sends naming their client are answered and echoed to that client only; a
    socket from the last cursors gets exactly what came after. Its answers are always
    ``sent`` frames: a shared socket ignores ``sentInBatch``."""
    group = tabs(n)
    group[0].send("0-before")
    tokens = [t.token for t in group]
    cursors = [t.cursor for t in group]
    with websocket(group[0], tokens, cursors, sent_in_batch=sent_in_batch) as ws:
        frames = ws_frames(ws, lambda f: len(f) >= 1)
        assert frames == [{"type": "open", "cursors": [""] * n}]
        for i, tab in enumerate(reversed(group)):
            ws_send(ws, tab, f"{n - 1 - i}-a", f"{n - 1 - i}-b")

        def done(frames: list[dict[str, Any]]) -> bool:
            sent = sum(f["type"] == "sent" for f in frames)
            delivered = sum(len(f.get("messages", ())) for f in frames)
            return sent >= n and delivered >= 2 * n + 1

        frames += ws_frames(ws, done)
    assert not any("sent" in f for f in frames if f["type"] == "batch")
    sent = [f for f in frames if f["type"] == "sent"]
    assert sent == [
        {"type": "sent", "results": [{"seq": s, "status": "ok"} for s in seqs]}
        for seqs in [[1, 2]] * (n - 1) + [[2, 3]]
    ]
    got = ws_got(frames, group)
    assert got[0] == ["0-before", "0-a", "0-b"]
    assert got[1:] == [[f"{i}-a", f"{i}-b"] for i in range(1, n)]

    group[-1].send("resumed")
    cursors = [t.cursor for t in group]
    with websocket(group[0], tokens, cursors) as ws:
        frames = ws_frames(ws, lambda f: any(x["type"] == "batch" for x in f))
    assert frames[0] == {"type": "open", "cursors": cursors}
    assert ws_got(frames, group) == [[]] * (n - 1) + [["resumed"]]
    nothing_left(group)


def test_websocket_send_naming_a_client_not_on_the_socket_is_refused(
    tabs: Tabs, stranger: ThywillHttpClient
) -> None:
    """A send frame of a shared socket must name one of its clients: another
    (or none) is bad_frame, and nothing is handled."""
    a, b, c = tabs(3)
    for client in (c.client_id, stranger.client_id, None):
        with websocket(a, [a.token, b.token], ["", ""]) as ws:
            ws_frames(ws, lambda f: len(f) >= 1)
            frame: dict[str, Any] = {
                "type": "send",
                "messages": [{"seq": 1, "data": "x"}],
            }
            if client is not None:
                frame["client"] = client
            ws.send(json.dumps(frame))
            frames, code = ws_closed(ws)
        assert code == 4400
        assert [f["type"] for f in frames] == ["error"]
        assert frames[0]["error"]["code"] == "bad_frame"
    nothing_left([a, b, c, stranger])


def test_single_socket_send_may_name_its_own_client_only(tabs: Tabs) -> None:
    """On a single-client socket, ``client`` is ignored when it is the client's own
    id; any other is bad_frame."""
    a, b = tabs(2)
    with a.websocket() as ws:
        a.ws_frames(ws, lambda f: len(f) >= 1)
        ws.send(
            json.dumps(
                {
                    "type": "send",
                    "client": a.client_id,
                    "messages": [{"seq": 1, "data": "own"}],
                }
            )
        )
        frames = ws_frames(
            ws,
            lambda f: (
                any(x["type"] == "sent" for x in f) and any(x["type"] == "batch" for x in f)
            ),
        )
        assert data_of(next(f for f in frames if f["type"] == "batch")["messages"]) == [
            "own"
        ]
        ws.send(
            json.dumps(
                {
                    "type": "send",
                    "client": b.client_id,
                    "messages": [{"seq": 2, "data": "other"}],
                }
            )
        )
        frames, code = ws_closed(ws)
    assert code == 4400 and frames[-1]["error"]["code"] == "bad_frame"
    nothing_left([b])


# --- refusals -------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["longpoll", "sse", "websocket"])
def test_a_token_of_another_session_refuses_the_request_naming_its_index(
    tabs: Tabs, stranger: ThywillHttpClient, transport: str
) -> None:
    """403 session_mismatch with the index of the foreign token; nothing delivered."""
    a, b = tabs(2)
    a.send("a")
    b.send("b")
    stranger.send("s")
    tokens = [a.token, stranger.token, b.token]
    if transport == "longpoll":
        response = longpoll(a, tokens, ["", "", ""])
        assert response.status_code == 403
        assert error_of(response)["code"] == "session_mismatch"
        assert error_of(response)["index"] == 1
        assert "batches" not in response.json()
    elif transport == "sse":
        with sse(a, tokens, ["", "", ""]) as response:
            assert response.status_code == 403
            assert (error_of(response)["code"], error_of(response)["index"]) == (
                "session_mismatch",
                1,
            )
    else:
        with websocket(a, tokens, ["", "", ""]) as ws:
            frames, code = ws_closed(ws)
        assert code == 4403
        assert [f["type"] for f in frames] == ["error"]
        assert frames[0]["error"]["code"] == "session_mismatch"
        assert frames[0]["error"]["index"] == 1
    # Without it, the others go on: everything is still there for them.
    response = longpoll(a, [a.token, b.token], ["", ""], wait=False)
    assert [data_of(x["messages"]) for x in response.json()["batches"]] == [["a"], ["b"]]


def bad_requests(a: ThywillHttpClient, b: ThywillHttpClient) -> list[Any]:
    """(tokens, cursors, extra headers, what the message says) of malformed requests."""
    return [
        ([a.token, b.token], [""], {}, "one 'cursor' parameter per token"),
        ([a.token, b.token], ["", "", ""], {}, "one 'cursor' parameter per token"),
        ([a.token, b.token, a.token], ["", "", ""], {}, "the same client twice"),
        ([f"t{n}" for n in range(17)], [""] * 17, {}, "MAX_CLIENTS_PER_CONNECTION"),
        ([a.token, b.token], ["", ""], {"X-Thywill-Token": a.token}, "not both"),
        ([], [], {}, "names no token"),
    ]


@pytest.mark.parametrize("case", range(6))
@pytest.mark.parametrize("transport", ["longpoll", "sse"])
def test_malformed_shared_requests_are_400(tabs: Tabs, transport: str, case: int) -> None:
    """Cursors not one per token, a client twice, too many clients, both token
    headers, no token: 400 bad_request, saying why."""
    a, b = tabs(2)
    tokens, cursors, headers, why = bad_requests(a, b)[case]
    if transport == "longpoll":
        response = longpoll(a, tokens, cursors, headers=headers)
    else:
        with sse(a, tokens, cursors, headers=headers) as response:
            pass
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"
    assert why in error_of(response)["message"]
    if why == "the same client twice":
        assert error_of(response)["index"] == 2


@pytest.mark.parametrize("case", [0, 1, 2, 3, 5])
def test_malformed_shared_sockets_are_4400(tabs: Tabs, case: int) -> None:
    """The same refusals on a WebSocket: an error frame, then close 4400."""
    a, b = tabs(2)
    tokens, cursors, _, why = bad_requests(a, b)[case]
    with websocket(a, tokens, cursors) as ws:
        frames, code = ws_closed(ws)
    assert code == 4400
    assert [f["type"] for f in frames] == ["error"]
    assert frames[0]["error"]["code"] == "bad_request"
    assert why in frames[0]["error"]["message"]


def test_a_socket_auth_frame_with_token_and_tokens_is_4400(tabs: Tabs) -> None:
    a, b = tabs(2)
    with a.websocket(auth=False) as ws:
        ws.send(json.dumps({"type": "auth", "token": a.token, "tokens": [b.token]}))
        frames, code = ws_closed(ws)
    assert code == 4400 and frames[0]["error"]["code"] == "bad_request"


# --- a client ended mid-stream --------------------------------------------------------


def test_longpoll_ends_with_the_index_of_a_client_ended_meanwhile(tabs: Tabs) -> None:
    """A waiting shared long-poll answers 410 disconnected, naming the ended client."""
    a, b = tabs(2)
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(longpoll, a, [a.token, b.token], ["", ""])
        time.sleep(0.3)
        disconnect(b)
        response = waiting.result(timeout=TIMEOUT + 5)
    assert response.status_code == 410
    assert (error_of(response)["code"], error_of(response)["index"]) == (
        "disconnected",
        1,
    )


def test_sse_ends_with_an_error_event_naming_a_client_ended_meanwhile(
    tabs: Tabs,
) -> None:
    """The stream writes ``error`` with the ended client's index, then ends."""
    a, b, c = tabs(3)
    with sse(a, [a.token, b.token, c.token], ["", "", ""]) as response:
        reader = EventReader(response)
        reader.until(lambda e: len(e) >= 1)
        disconnect(b)
        events = reader.to_the_end()
    assert [e.event for e in events] == ["open", "error"]
    assert events[1].json()["error"]["code"] == "disconnected"
    assert events[1].json()["error"]["index"] == 1


def test_websocket_closes_4410_naming_a_client_ended_meanwhile(tabs: Tabs) -> None:
    """An error frame with the ended client's index, then close 4410."""
    a, b = tabs(2)
    with websocket(a, [a.token, b.token], ["", ""]) as ws:
        ws_frames(ws, lambda f: len(f) >= 1)
        disconnect(a)
        frames, code = ws_closed(ws)
    assert code == 4410
    assert [f["type"] for f in frames] == ["error"]
    assert frames[0]["error"]["code"] == "disconnected"
    assert frames[0]["error"]["index"] == 0


# --- a group that several clients of the connection follow ----------------------------


@pytest.mark.parametrize("transport", ["longpoll", "websocket"])
def test_a_group_message_reaches_each_member_client_once(
    tabs: Tabs, transport: str
) -> None:
    """Two clients of the connection in one room: what is said there arrives once in
    each one's batch, on the group's channel, and wakes a waiting connection."""
    a, b = tabs(2, app="rooms")
    for tab in (a, b):
        assert tab.send({"type": "room.join", "room": "hall"})[0]["status"] == "ok"
    hall = "group:rooms:hall"
    tokens = [a.token, b.token]
    response = longpoll(a, tokens, ["", ""], wait=False)
    caught_up = response.json()["batches"]
    assert [data_of(x["messages"]) for x in caught_up] == [
        [{"type": "thywill.join", "group": "hall", "clientId": b.client_id}],
        [],
    ]
    cursors = [x["cursor"] for x in caught_up]

    def said(text: str, by: ThywillHttpClient) -> dict[str, str]:
        return {"from": by.client_id, "text": text}

    if transport == "longpoll":
        a.send({"type": "room.say", "room": "hall", "text": "hi"})
        response = longpoll(a, tokens, cursors)
        batches = response.json()["batches"]
        assert [
            (x["client"], [(m["channel"], m["data"]) for m in x["messages"]])
            for x in batches
        ] == [
            (a.client_id, [(hall, said("hi", a))]),
            (b.client_id, [(hall, said("hi", a))]),
        ]
        cursors = [x["cursor"] for x in batches]
        with ThreadPoolExecutor(max_workers=1) as pool:
            waiting = pool.submit(longpoll, a, tokens, cursors)
            time.sleep(0.3)
            b.send({"type": "room.say", "room": "hall", "text": "yo"})
            batches = waiting.result(timeout=TIMEOUT + 5).json()["batches"]
        assert [data_of(x["messages"]) for x in batches] == [[said("yo", b)]] * 2
        return

    with websocket(a, tokens, cursors) as ws:
        ws_frames(ws, lambda f: len(f) >= 1)
        ws_send(ws, b, {"type": "room.say", "room": "hall", "text": "yo"})
        frames = ws_frames(
            ws,
            lambda f: (
                any(x["type"] == "sent" for x in f)
                and sum(x["type"] == "batch" for x in f) >= 2
            ),
        )
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)  # nothing more: each got it once
    batches = [f for f in frames if f["type"] == "batch"]
    assert sorted((f["index"], f["client"]) for f in batches) == [
        (0, a.client_id),
        (1, b.client_id),
    ]
    for frame in batches:
        assert [(m["channel"], m["data"]) for m in frame["messages"]] == [
            (hall, said("yo", b))
        ]
