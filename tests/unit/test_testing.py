"""thywill.testing: clients of an application in the test's process, through the real
endpoints, pipeline and push backend."""

from __future__ import annotations

import asyncio
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import TestCase, TransactionTestCase

from tests.apps.models import Departure
from thywill.testing import TestClient, connect, connect_sync
from thywill.testing.client import POLL_INTERVAL

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_client_is_welcomed_and_its_messages_come_back():
    """connect() loads the page (on_connect runs); send() answers the message's result;
    receive() gives what was pushed since the last receive, in order."""
    client = await connect("testkit")
    assert client.application == "testkit"
    assert client.config["clientId"] == client.client_id
    assert await client.receive() == [{"welcome": client.client_id}]
    assert await client.send("one") == {"status": "ok"}
    assert await client.send({"n": 2}) == {"status": "ok"}
    assert await client.receive() == ["one", {"n": 2}]
    assert await client.receive() == []


async def test_a_handler_that_raises_answers_error_and_sends_nothing():
    client = await connect("testkit")
    await client.receive()
    assert await client.send({"raise": True}) == {
        "status": "error",
        "reason": "The application failed to handle this message.",
    }
    assert await client.receive() == []


async def test_two_clients_see_a_group_message_and_a_forwarded_one():
    """Each client reads its own feed: a group's message reaches every member, a
    message sent to one client by id reaches that one."""
    alice, bob = await connect("rooms"), await connect("rooms")
    for each in (alice, bob):
        assert await each.send({"type": "room.join", "room": "tea"}) == {"status": "ok"}
    assert await alice.receive_one("thywill.join") == {
        "type": "thywill.join",
        "group": "tea",
        "clientId": bob.client_id,
    }
    assert await bob.send({"type": "room.say", "room": "tea", "text": "hi"}) == {
        "status": "ok"
    }
    said = {"from": bob.client_id, "text": "hi"}
    assert await alice.receive() == [said]
    assert await bob.receive() == [said]

    carol, dave = await connect("testkit"), await connect("testkit")
    await carol.send({"to": dave.client_id, "data": "psst"})
    assert await dave.receive_one(timeout=0) == {"welcome": dave.client_id}
    assert await dave.receive_one(timeout=0) == {"from": carol.client_id, "data": "psst"}
    assert await carol.receive() == [{"welcome": carol.client_id}]


async def test_a_client_logged_in_as_a_user_has_its_id():
    """connect(user=...) logs the client's browser in: ctx.user_id is the user's key."""
    user = await get_user_model().objects.acreate_user("ada", password="x")
    client = await connect("testkit", user=user)
    await client.send({"whoami": True})
    assert await client.receive_one(timeout=0) == {"welcome": client.client_id}
    assert await client.receive_one(timeout=0) == {"user": str(user.pk)}
    anonymous = await connect("testkit")
    await anonymous.send({"whoami": True})
    assert await anonymous.receive_one(timeout=0) == {"welcome": anonymous.client_id}
    assert await anonymous.receive_one(timeout=0) == {"user": None}


async def test_a_second_tab_of_one_browser_shares_its_session():
    """connect(http=other.http) loads the page in the same browser: a new client, one
    session (the session_hash hook scripts see); another browser has its own."""
    first = await connect("testkit")
    second = await connect("testkit", http=first.http)
    elsewhere = await connect("testkit")
    assert second.client_id != first.client_id
    assert second.session_hash == first.session_hash != elsewhere.session_hash
    assert await first.send("still here") == {"status": "ok"}


async def test_receive_one_leaves_the_others_for_receive():
    """A filtered receive_one takes the first match; what came before it stays."""
    client = await connect("testkit")
    await client.send({"type": "a"})
    await client.send({"type": "b"})
    assert await client.receive_one("b") == {"type": "b"}
    assert await client.receive() == [{"welcome": client.client_id}, {"type": "a"}]


async def test_receive_one_gives_up_after_its_timeout_saying_what_arrived():
    """A bounded wait: an AssertionError that names the type and lists what came."""
    client = await connect("testkit")
    await client.send({"type": "other"})
    with pytest.raises(AssertionError) as missing:
        await client.receive_one("chat.said", timeout=3 * POLL_INTERVAL)
    message = str(missing.value)
    assert "no message of type 'chat.said' arrived within 0.03 s" in message
    assert repr([{"welcome": client.client_id}, {"type": "other"}]) in message
    assert await client.receive(timeout=3 * POLL_INTERVAL) == [
        {"welcome": client.client_id},
        {"type": "other"},
    ]
    assert await client.receive(timeout=3 * POLL_INTERVAL) == []


async def test_a_receive_that_waits_gets_what_arrives_meanwhile():
    """receive(timeout) waits for a message sent while it waits."""
    client, other = await connect("testkit"), await connect("testkit")
    await client.receive()

    async def later() -> None:
        await asyncio.sleep(5 * POLL_INTERVAL)
        await other.send({"to": client.client_id, "data": "late"})

    sender = asyncio.create_task(later())
    assert await client.receive(timeout=5.0) == [{"from": other.client_id, "data": "late"}]
    await sender


async def test_disconnect_runs_the_disconnect_event_now_and_ends_the_client():
    """on_disconnect has run when disconnect() returns (testkit records a Departure),
    the others of its groups are told, and the client can do nothing more."""
    alice, bob = await connect("rooms"), await connect("rooms")
    for each in (alice, bob):
        await each.send({"type": "room.join", "room": "tea"})
    await alice.receive()
    await bob.disconnect()
    arrived = await alice.receive()
    assert sorted(arrived, key=str) == [
        {"bye": bob.client_id},  # rooms' on_disconnect, to each of its groups
        {"type": "thywill.leave", "group": "tea", "clientId": bob.client_id},
    ]

    client = await connect("testkit")
    await client.disconnect()
    assert await Departure.objects.filter(client_id=client.client_id).acount() == 1
    for action in (client.send("late"), client.receive(), client.disconnect()):
        with pytest.raises(AssertionError, match="is disconnected"):
            await action
    assert await Departure.objects.filter(client_id=client.client_id).acount() == 1


async def test_a_refused_page_or_an_unknown_application_fails_connect():
    with pytest.raises(AssertionError, match=re.escape("answered 404")):
        await connect("nowhere")


async def test_the_default_application_and_the_fixture(thywill_connect):
    """connect() without a name is the default application (echo); the fixture hands
    out connect() in a runtime of the test's own."""
    client: TestClient = await thywill_connect()
    assert client.application == "echo"
    assert await client.send("hello") == {"status": "ok"}
    assert "hello" in await client.receive()


def test_the_sync_fixture(thywill_connect_sync):
    client = thywill_connect_sync("testkit")
    assert client.send("hi") == {"status": "ok"}
    assert client.receive() == [{"welcome": client.client_id}, "hi"]


class SyncClientTests:
    """The sync API, from Django's test case classes (their methods are sync)."""

    def test_round_trip_login_and_disconnect(self) -> None:
        user = get_user_model().objects.create_user("grace", password="x")
        client = connect_sync("testkit", user=user)
        assert client.receive_one() == {"welcome": client.client_id}
        assert client.send({"whoami": True}) == {"status": "ok"}
        assert client.receive_one(timeout=0) == {"user": str(user.pk)}
        assert client.send({"raise": True})["status"] == "error"
        client.disconnect()
        assert Departure.objects.filter(client_id=client.client_id).count() == 1

    def test_two_clients_of_a_group(self) -> None:
        alice, bob = connect_sync("rooms"), connect_sync("rooms")
        for each in (alice, bob):
            each.send({"type": "room.join", "room": "tea"})
        bob.send({"type": "room.say", "room": "tea", "text": "hi"})
        assert alice.receive()[-1] == {"from": bob.client_id, "text": "hi"}
        with pytest.raises(AssertionError, match="no message of type 'x'"):
            alice.receive_one("x", timeout=0)


class TestFromTransactionTestCase(SyncClientTests, TransactionTestCase):
    """Handlers commit for real; what they wrote is flushed after each test."""


class TestFromTestCase(SyncClientTests, TestCase):
    """The sync API runs handlers in the test's thread, so inside its transaction."""
