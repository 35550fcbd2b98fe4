"""The bounds of issue 14: connections per client, clients per session, what a client
that left still holds, buffered bytes, and Client rows that expire."""

from __future__ import annotations

import asyncio
import datetime
import gc
import io
import json
import tracemalloc
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

import thywill
from tests.unit.test_views import LOCMEM, Tab
from tests.unit.test_websocket import frame, opened, refusal, refused, socket_for
from thywill.identity.activated import activated
from thywill.identity.tokens import forget_verified, identify, verified_count
from thywill.models import Client
from thywill.push.locmem import LocMemPushBackend
from thywill.wiring.checks import check_bounds, check_components, check_settings
from thywill.wiring.runtime import get_runtime

pytestmark = pytest.mark.django_db(transaction=True)

TOO_MANY = "This client already has 2 open connections (the most allowed); close one first."


@pytest.fixture
async def tab() -> Tab:
    tab = Tab()
    await tab.bootstrap()
    return tab


@override_settings(THYWILL_LIMITS={"MAX_CONNECTIONS_PER_CLIENT": 2})
async def test_websockets_beyond_the_limit_are_refused(tab: Tab) -> None:
    """A client's third socket is refused with 4429; once one closes, a new one opens,
    and when all are closed the process holds no count for the client."""
    first, second = await opened(tab), await opened(tab)
    third = socket_for(tab)
    assert await third.connect(2.0) == (True, None)
    assert await refused(third) == refusal("too_many_connections", TOO_MANY, 429)
    await first.disconnect()
    fourth = await opened(tab)
    assert get_runtime().connections.count(tab.client_id) == 2
    await second.disconnect()
    await fourth.disconnect()
    assert len(get_runtime().connections) == 0


@override_settings(THYWILL_LIMITS={"MAX_CONNECTIONS_PER_CLIENT": 2})
async def test_many_websockets_on_one_token_hold_at_most_the_limit(tab: Tab) -> None:
    """Fifty sockets on one token: two are served, every other one is refused."""
    sockets = [socket_for(tab) for _ in range(50)]
    for socket in sockets:
        assert await socket.connect(2.0) == (True, None)
    kinds = [(await frame(socket))["type"] for socket in sockets]
    assert kinds.count("open") == 2
    assert kinds.count("error") == 48
    assert get_runtime().connections.count(tab.client_id) == 2
    for socket in sockets:
        await socket.disconnect()
    assert len(get_runtime().connections) == 0


@override_settings(THYWILL_LIMITS={"MAX_CONNECTIONS_PER_CLIENT": 2})
async def test_longpoll_and_sse_beyond_the_limit_answer_429(tab: Tab) -> None:
    """With its places taken, a client's long-poll and SSE stream answer 429."""
    held = [get_runtime().connections.open(tab.client_id) for _ in range(2)]
    poll = await tab.poll_response()
    assert poll.status_code == 429
    assert poll.json()["error"]["code"] == "too_many_connections"
    sse = await tab.sse_response({"cursor": ""})
    assert sse.status_code == 429
    held[0].close()
    assert (await tab.poll_response()).status_code == 200
    assert get_runtime().connections.count(tab.client_id) == 1
    held[1].close()
    held[1].close()  # closing twice gives back one place only
    assert len(get_runtime().connections) == 0


async def test_a_long_poll_holds_its_place_while_it_waits(tab: Tab) -> None:
    """A waiting long-poll counts as a connection until it answers."""
    poll = asyncio.ensure_future(tab.poll_response(wait=None))
    for _ in range(100):
        if get_runtime().connections.count(tab.client_id):
            break
        await asyncio.sleep(0.01)
    assert get_runtime().connections.count(tab.client_id) == 1
    await tab.send("wake")
    assert (await asyncio.wait_for(poll, 5)).status_code == 200
    assert get_runtime().connections.count(tab.client_id) == 0


@override_settings(THYWILL_LIMITS={"MAX_CLIENTS_PER_SESSION": 2})
async def test_a_session_keeps_its_newest_clients_and_ends_the_oldest() -> None:
    """Three page loads in one session with a limit of 2: the first client is ended
    (its reads answer 410 disconnected), the two newest work; another session is not
    touched."""
    first = Tab()
    await first.bootstrap()
    second, third = Tab(first.client), Tab(first.client)
    await second.bootstrap()
    other = Tab()
    await other.bootstrap()
    assert (await first.poll_response()).status_code == 200
    await third.bootstrap()
    answer = await first.poll_response()
    assert answer.status_code == 410
    assert answer.json()["error"]["code"] == "disconnected"
    for tab in (second, third, other):
        assert (await tab.poll_response()).status_code == 200


async def test_purge_deletes_the_client_rows_older_than_token_max_age() -> None:
    """Rows issued more than TOKEN_MAX_AGE ago go, younger ones stay; --json counts."""
    tabs = [Tab() for _ in range(3)]
    for tab in tabs:
        await tab.bootstrap()
    old = timezone.now() - datetime.timedelta(days=8)
    await Client.objects.filter(id__in=[tabs[0].client_id, tabs[1].client_id]).aupdate(
        created_at=old
    )
    out = io.StringIO()
    await sync_to_async(call_command)("thywill_purge", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["deleted_clients"] == 2
    assert report["token_max_age"] == 7 * 24 * 3600
    assert [c.id async for c in Client.objects.all()] == [tabs[2].client_id]
    out = io.StringIO()
    await sync_to_async(call_command)("thywill_purge", stdout=out)
    assert out.getvalue().startswith("Deleted 0 client record(s) issued before ")


def held_per_client(runtime) -> dict[str, int]:
    """The size of every per-process structure keyed by client, in this process."""
    push = runtime.push
    private = [c for c in push._logs if c.startswith("client:")]
    return {
        "presence renewals": len(runtime.presence._renewed),
        "verified tokens": verified_count(),
        "activated clients": len(activated),
        "leases": len(push._leases),
        "claims": len(push._claims),
        "memberships": len(push._memberships),
        "private channel logs": len(private),
        "client locks": len(push._client_locks),
        "connections": len(runtime.connections),
    }


async def cycle(count: int) -> list[Tab]:
    """``count`` clients each load a page, read over long-poll and WebSocket, send a
    message, then leave (their disconnect event runs)."""
    runtime = get_runtime()
    tabs = []
    for _ in range(count):
        tab = Tab()
        await tab.bootstrap()
        await tab.poll()
        socket = await opened(tab)
        await tab.send("hello")
        await socket.disconnect()
        tabs.append(tab)
    for tab in tabs:
        await runtime.presence.end(identify(tab.token, {"sessionid": tab.session_key}))
    return tabs


async def test_clients_that_left_leave_nothing_behind() -> None:
    """After 30 clients came, read, sent and left, nothing keyed by client remains in
    the process but their send sequences (kept for max_age)."""
    runtime = get_runtime()
    forget_verified()  # the tokens of other tests' clients, which never left
    tabs = await cycle(30)
    assert held_per_client(runtime) == dict.fromkeys(held_per_client(runtime), 0)
    assert {c for c in runtime.push._sequences} == {t.client_id for t in tabs}


async def test_a_pending_client_that_left_is_no_longer_remembered_as_activated() -> None:
    """With THYWILL_RESUME on, a client is pending until its first request activates it,
    and the process remembers that it did; once the client left, it forgets it."""
    with override_settings(THYWILL_RESUME=True):
        tab = Tab()
        await tab.bootstrap()
        await tab.poll()
        assert tab.client_id in activated
        identity = identify(tab.token, {"sessionid": tab.session_key})
        await get_runtime().presence.end(identity)
        assert tab.client_id not in activated


async def test_memory_returns_to_baseline_when_clients_leave() -> None:
    """tracemalloc: 100 more clients that come and go leave under 600 bytes each in
    thywill's structures: their send sequences (kept for max_age) and the session hashes
    of their new sessions (a cache of 1024), not the kilobytes each held before."""
    await cycle(20)  # warm-up: caches, flows, first-use imports
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        await cycle(100)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    # Only what thywill's own code allocated: the test client's requests leave Django
    # signal receivers and weakref finalizers behind, which a browser does not.
    package = [tracemalloc.Filter(True, str(Path(thywill.__file__).parent / "*"))]
    grown = after.filter_traces(package).compare_to(before.filter_traces(package), "lineno")
    assert sum(stat.size_diff for stat in grown) < 100 * 600, grown[:8]


async def test_a_channel_holds_at_most_max_bytes_and_a_reader_behind_gets_a_reset() -> None:
    """Ten messages of 100 characters into a channel of 350: the three newest stay; a
    reader from the start is told it lost history. The newest always stays."""
    push = LocMemPushBackend(max_bytes=350)
    first = await push.publish("group:a:b", json.dumps("x" * 98))
    for _ in range(9):
        await push.publish("group:a:b", json.dumps("y" * 98))
    result = await push.read("group:a:b", first, 100)
    assert result.reset and len(result.messages) == 3
    await push.publish("group:a:b", json.dumps("z" * 1000))
    assert len((await push.read("group:a:b", None, 100)).messages) == 1
    assert push._size == 1002


async def test_the_process_holds_at_most_max_total_bytes() -> None:
    """Over max_total_bytes, the least recently written channels lose their oldest
    messages until the process holds under nine tenths of it."""
    push = LocMemPushBackend(max_total_bytes=10_000)
    for channel in range(30):
        for _ in range(5):
            await push.publish(f"group:a:{channel}", json.dumps("x" * 98))
    assert push._size <= 10_000
    assert sum(log.size for log in push._logs.values()) == push._size
    assert len((await push.read("group:a:29", None, 100)).messages) == 5
    assert len((await push.read("group:a:0", None, 100)).messages) == 1


@override_settings(
    THYWILL_COMPONENTS={"push": {"BACKEND": LOCMEM, "OPTIONS": {"max_bytes": 0}}}
)
def test_a_max_bytes_that_is_not_positive_is_reported() -> None:
    messages = check_components()
    assert [m.id for m in messages] == ["thywill.E004"]


@override_settings(THYWILL_LIMITS={"MAX_CONNECTIONS_PER_CLIENT": 1})
def test_one_connection_per_client_is_warned_about() -> None:
    assert [m.id for m in check_bounds()] == ["thywill.W006"]


@override_settings(
    THYWILL_LIMITS={"MAX_STREAM_BYTES": 100_000, "MAX_MESSAGE_BYTES": 64 * 1024}
)
def test_a_stream_budget_of_a_few_messages_is_warned_about() -> None:
    assert [m.id for m in check_bounds()] == ["thywill.W007"]


@override_settings(THYWILL_LIMITS={})
def test_the_default_bounds_raise_no_warning() -> None:
    assert check_bounds() == []


@override_settings(THYWILL_LIMITS={"MAX_CLIENTS_PER_SESSION": 0})
def test_the_new_limits_are_checked_as_every_limit() -> None:
    assert [m.id for m in check_settings()] == ["thywill.E008"]
    assert check_bounds() == []
