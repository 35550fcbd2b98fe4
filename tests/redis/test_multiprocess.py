"""Several server processes sharing one Redis, as behind a round-robin balancer.

Every test here runs real server processes (Daphne, then uvicorn) on the shared Redis
under a key prefix of their own, and a database they share.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.live import LiveServer
from tests.support.cluster import PRESENCE_TTL, Cluster, start_cluster, wait_for
from tests.support.http_client import (
    Message,
    ThywillHttpClient,
    ThywillHttpError,
    Transport,
    data_of,
    delivered,
)

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def cluster(live_factory: Callable[..., LiveServer], redis_url: str) -> Cluster:
    """Two servers, A and B, sharing the test Redis and a database."""
    return start_cluster(live_factory, redis_url)


@pytest.fixture
def pair(cluster: Cluster) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Servers A and B, both running (a test before may have killed one)."""
    cluster.ensure_running()
    a, b = cluster.servers
    yield a, b


@pytest.fixture(params=["longpoll", "sse"])
def transport(request: pytest.FixtureRequest) -> Transport:
    value: Transport = request.param
    return value


def test_every_combination_of_processes_works(pair, transport):
    """Bootstrap, send and receive each on A or B: all eight ways deliver."""
    servers = dict(zip("AB", pair, strict=True))
    for boot, send, receive in itertools.product("AB", repeat=3):
        with ThywillHttpClient(servers[boot].url) as tab:
            tab.bootstrap()
            tab.use_server(servers[send].url)
            route = f"boot {boot}, send {send}, receive {receive}"
            assert tab.send({"route": route}) == [{"seq": 1, "status": "ok"}]
            tab.use_server(servers[receive].url)
            assert data_of(tab.receive(1, transport=transport)) == [{"route": route}]


def test_a_waiting_reader_on_one_process_is_woken_by_a_send_on_the_other(pair, transport):
    """A reader already waiting on A gets what B handled, promptly (no polling)."""
    a, b = pair
    with ThywillHttpClient(a.url) as tab:
        tab.bootstrap()
        reader = tab.another_connection()
        got: list[Message] = []
        thread = threading.Thread(
            target=lambda: got.extend(reader.receive(1, transport=transport, timeout=10))
        )
        thread.start()
        time.sleep(0.5)  # the reader is waiting on A by now
        tab.use_server(b.url)
        sent = time.monotonic()
        tab.send("wake up")
        thread.join(timeout=15)
        assert data_of(got) == ["wake up"]
        assert time.monotonic() - sent < 3.0


def collect(
    reader: ThywillHttpClient,
    transport: Transport,
    wanted: int,
    survivor: str,
    deadline: float,
) -> list[Any]:
    """Read until ``wanted`` messages arrived; when the server dies, go to the survivor."""
    got: list[Any] = []
    while len(got) < wanted and time.monotonic() < deadline:
        try:
            if transport == "longpoll":
                got.extend(m["data"] for m in reader.longpoll(timeout=10).messages)
                continue
            with reader.sse_stream(timeout=deadline - time.monotonic()) as stream:
                for event in stream.events():
                    if event.id is not None:
                        reader.cursor = event.id
                    if event.event == "reset":
                        reader.resets.append(event.json())
                    if event.event == "message":
                        got.append(event.json()["data"])
                        if len(got) >= wanted:
                            break
        except (httpx.TransportError, ThywillHttpError):
            # What a browser does: reconnect, here through the balancer to the survivor.
            reader.use_server(survivor)
            time.sleep(0.1)
    return got


def test_killing_the_streaming_process_loses_nothing(pair, transport):
    """Kill -9 the process a tab reads from: it resumes on the other, exactly once."""
    a, b = pair
    total = 60
    with ThywillHttpClient(a.url) as tab:
        tab.bootstrap()
        reader = tab.another_connection()
        got: list[Any] = []
        deadline = time.monotonic() + 40
        thread = threading.Thread(
            target=lambda: got.extend(collect(reader, transport, total, b.url, deadline))
        )
        thread.start()
        tab.use_server(b.url)
        for n in range(total):
            assert tab.send(n) == [{"seq": n + 1, "status": "ok"}]
            if n == total // 3:
                a.kill()
            time.sleep(0.01)
        thread.join(timeout=45)
        reader.close()
    assert not thread.is_alive()
    assert got == list(range(total))
    assert reader.resets == []


def test_disconnect_runs_once_when_the_process_holding_the_client_dies(cluster, pair):
    """The tab's server is killed: B runs its disconnect event, exactly once."""
    a, _ = pair
    with ThywillHttpClient(a.url, app="testkit") as tab:
        tab.bootstrap()
        tab.longpoll(wait=False)
        a.kill()
        assert wait_for(lambda: cluster.departures(tab.client_id) > 0, PRESENCE_TTL + 10)
        time.sleep(3 * PRESENCE_TTL)
        assert cluster.departures(tab.client_id) == 1


def test_disconnect_runs_once_when_a_client_goes_quiet(cluster, pair):
    """A tab that stops reading is disconnected once, whichever process sweeps."""
    a, b = pair
    with ThywillHttpClient(a.url, app="testkit") as tab:
        tab.bootstrap()
        tab.use_server(b.url)
        tab.longpoll(wait=False)
        assert wait_for(lambda: cluster.departures(tab.client_id) > 0, PRESENCE_TTL + 10)
        time.sleep(3 * PRESENCE_TTL)
        assert cluster.departures(tab.client_id) == 1


def test_a_connected_client_is_never_disconnected(cluster, pair):
    """A tab that keeps reading, alternately on A and B, keeps its presence."""
    servers = itertools.cycle(pair)
    with ThywillHttpClient(next(servers).url, app="testkit") as tab:
        tab.bootstrap()
        for _ in range(3):
            tab.use_server(next(servers).url)
            # Long-polls of 5 s renew the lease while they wait.
            assert tab.longpoll(wait=True).messages is not None
        assert cluster.departures(tab.client_id) == 0


def test_a_tab_that_returns_after_its_disconnect_gets_connected_again(cluster, pair):
    """After its lease lapsed, a tab's next read runs its connect event again."""
    a, _ = pair
    with ThywillHttpClient(a.url, app="testkit") as tab:
        tab.bootstrap()
        assert wait_for(lambda: cluster.departures(tab.client_id) == 1, PRESENCE_TTL + 10)
        welcomes = [m for m in tab.receive(2, timeout=5) if "welcome" in m["data"]]
        assert len(welcomes) == 2


@pytest.fixture
def room_members(
    pair: tuple[LiveServer, LiveServer],
) -> Iterator[tuple[ThywillHttpClient, ThywillHttpClient, str]]:
    """Alice, a rooms tab bootstrapped on A; Bob, one on B; and a room name of the test."""
    a, b = pair
    with (
        ThywillHttpClient(a.url, app="rooms") as alice,
        ThywillHttpClient(b.url, app="rooms") as bob,
    ):
        alice.bootstrap()
        bob.bootstrap()
        yield alice, bob, f"room-{secrets.token_hex(4)}"  # the cluster outlives the test


def test_groups_and_their_presence_work_across_processes(pair, room_members, transport):
    """Members on A and B share a room: messages, member lists, and a leave on death."""
    a, b = pair
    alice, bob, room = room_members
    assert alice.send({"type": "room.join", "room": room})[0]["status"] == "ok"
    assert bob.send({"type": "room.join", "room": room})[0]["status"] == "ok"
    assert bob.send({"type": "room.say", "room": room, "text": "hi"})[0]["status"] == "ok"
    said = {"from": bob.client_id, "text": "hi"}
    got = data_of(alice.receive(lambda m: said in data_of(m), transport=transport))
    assert got == [
        {"type": "thywill.join", "group": room, "clientId": bob.client_id},
        said,
    ]
    alice.use_server(b.url)
    alice.send({"type": "room.who", "room": room})
    [who] = data_of(alice.receive(1, transport=transport))
    assert who == {
        "members": sorted([alice.client_id, bob.client_id]),
        "groups": [room],
    }
    # Bob's process dies and bob never comes back: alice is told he left, once.
    b.kill()
    alice.use_server(a.url)
    left = {"type": "thywill.leave", "group": room, "clientId": bob.client_id}
    deadline = time.monotonic() + PRESENCE_TTL + 15
    seen: list[Any] = []
    while left not in seen and time.monotonic() < deadline:
        seen.extend(data_of(alice.receive(1, transport=transport, timeout=3)))
    assert seen.count(left) == 1


def test_a_room_over_websockets_on_two_processes(room_members):
    """Members on WebSockets to A and to B share a room through Redis."""
    alice, bob, room = room_members
    with alice.websocket() as to_a, bob.websocket() as to_b:
        answered = any_sent_frame
        alice.ws_send(to_a, {"type": "room.join", "room": room})
        alice.ws_frames(to_a, answered)
        bob.ws_send(to_b, {"type": "room.join", "room": room})
        bob.ws_frames(to_b, answered)
        bob.ws_send(to_b, {"type": "room.say", "room": room, "text": "hello A"})
        said = {"from": bob.client_id, "text": "hello A"}
        frames = alice.ws_frames(to_a, lambda f: said in delivered(f), timeout=10)
    assert delivered(frames) == [
        {"type": "thywill.join", "group": room, "clientId": bob.client_id},
        said,
    ]


def any_sent_frame(frames: list[dict[str, Any]]) -> bool:
    """A ``sent`` frame (a send's answer) is among the frames."""
    return any(frame["type"] == "sent" for frame in frames)


def test_a_logout_on_one_process_ends_the_session_on_the_other(pair):
    """Logged out through A, the session's clients are refused by B at once, and a
    stream open on B ends within PRESENCE_TTL / 3: the revocation is in Redis."""
    a, b = pair
    with ThywillHttpClient(b.url) as tab:
        tab.bootstrap()
        reader = tab.another_connection()
        with reader.sse_stream(timeout=10) as stream:
            events = stream.events()
            assert next(events).event == "open"
            browser = tab.another_connection(a.url)
            assert browser.http.post("/logout/").status_code == 200
            ended = time.monotonic()
            with pytest.raises(ThywillHttpError) as caught:
                tab.send("after")
            assert (caught.value.status, caught.value.code) == (403, "session_ended")
            assert [e.event for e in events] == []
            assert stream.ended_by == "server"
            assert time.monotonic() - ended < PRESENCE_TTL / 3 + 1.0
        browser.close()
        reader.close()


def test_hook_scripts_share_state_across_processes_with_nothing_configured(pair):
    """THYWILL_HOOKS sets no CACHE and the site's cache is per process: ``shared``
    lives on the push backend's Redis, so a count kept by hook scripts goes on from one
    process to the other, from sync and from async functions."""
    a, b = pair
    key = secrets.token_hex(4)
    with ThywillHttpClient(a.url, "rooms") as tab:
        tab.bootstrap()
        counts = []
        for server in (a, b, a, b):
            tab.use_server(server.url)
            [result] = tab.send({"type": "room.count", "key": key})
            counts.append(result["value"])
        assert counts == [1, 2, 3, 4]


def test_an_async_hook_claims_once_across_processes(pair):
    """``shared.aadd`` is atomic across processes: of two clients on two processes,
    only the first to send claims the key; ``aincr`` counts both."""
    a, b = pair
    key = secrets.token_hex(4)
    answers = []
    for server in (a, b):
        with ThywillHttpClient(server.url, "rooms") as tab:
            tab.bootstrap()
            [result] = tab.send({"type": "room.acount", "key": key})
            answers.append(result["value"])
    assert answers == [{"count": 1, "claimed": True}, {"count": 2, "claimed": False}]
