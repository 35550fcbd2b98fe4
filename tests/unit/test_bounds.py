"""The bounds of issue 14: connections per client, clients per session, what a client
that left still holds, buffered bytes, and Client rows that expire."""

from __future__ import annotations

import asyncio
import datetime
import io
import json

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from tests.unit.test_views import Tab
from tests.unit.test_websocket import frame, opened, refusal, refused, socket_for
from thywill.models import Client
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
    sse = await tab.client.get("/thywill/sse/", {"token": tab.token, "cursor": ""})
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
