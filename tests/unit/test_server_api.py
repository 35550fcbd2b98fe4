"""The server API in one process: sends from outside any event, users, disconnect."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models.signals import post_save

import thywill
from tests.apps.models import Departure
from tests.support.members import Member, data_read
from thywill import ApplicationSpec
from thywill.exceptions import ErrorCode, RejectedError
from thywill.feed.cursor import Cursor
from thywill.identity.tokens import ClientIdentity, new_client_id
from thywill.wiring.runtime import get_runtime, serve_clients

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def serving() -> None:
    """This process serves the clients the tests make (as thywill.asgi would note)."""
    serve_clients()


async def issued(
    app: str = "rooms", user_id: str | None = None, client_id: str | None = None
) -> Member:
    """A client issued as the bootstrap page does: recorded, connected, present."""
    member = Member(app)
    member.identity = ClientIdentity(
        client_id or new_client_id(), app, secrets.token_hex(16), user_id=user_id
    )
    if user_id is not None:
        await get_user_model().objects.aget_or_create(
            pk=int(user_id), defaults={"username": f"user{user_id}"}
        )
    runtime = get_runtime()
    await runtime.database.record_client(member.identity, secrets.token_hex(16))
    await runtime.events.handle_connect(member.app, member.identity)
    await runtime.presence.renew(member.identity, force=True)
    return member


async def in_group(group: str, *members: Member) -> None:
    for member in members:
        assert (await member.sent_one({"type": "room.join", "room": group}))[
            "status"
        ] == "ok"


async def received(member: Member, feed=None) -> list:
    """What the member's feed holds, without presence events."""
    arrived = await data_read(feed or member.feed())
    return [
        d
        for d in arrived
        if not (isinstance(d, dict) and d.get("type", "").startswith("thywill."))
    ]


# --- groups and clients ------------------------------------------------------------


async def test_a_group_send_reaches_every_member_through_the_on_send_pipes():
    a, b, outsider = await issued(), await issued(), await issued()
    await in_group("lobby", a, b)
    feeds = {m.id: m.feed() for m in (a, b, outsider)}
    for feed in feeds.values():
        await feed.read()
    await thywill.asend_to_group("rooms", "lobby", "new order")
    # The rooms application's Upper pipe capitalises strings: it saw the message.
    assert await received(a, feeds[a.id]) == ["NEW ORDER"]
    assert await received(b, feeds[b.id]) == ["NEW ORDER"]
    assert await received(outsider, feeds[outsider.id]) == []


async def test_a_client_send_reaches_that_client_only():
    a, b = await issued(), await issued()
    await thywill.asend_to_client(a.id, {"n": 1})
    assert await received(a) == [{"n": 1}]
    assert await received(b) == []


async def test_sends_refuse_what_cannot_be_sent_at_the_call():
    a = await issued()
    with pytest.raises(thywill.UnknownClientError):
        await thywill.asend_to_client(new_client_id(), 1)
    with pytest.raises(ValueError, match="not a client id"):
        await thywill.asend_to_client("nope", 1)
    with pytest.raises(ValueError, match="invalid group name"):
        await thywill.asend_to_group("rooms", "no spaces", 1)
    with pytest.raises(LookupError):
        await thywill.asend_to_group("nowhere", "lobby", 1)
    with pytest.raises(thywill.ThywillError, match="cannot send"):
        await thywill.asend_to_client(a.id, "\ud800")
    assert await received(a) == []


async def test_members_lists_a_groups_clients():
    a, b = await issued(), await issued()
    await in_group("lobby", a, b)
    assert await thywill.amembers("rooms", "lobby") == sorted([a.id, b.id])
    assert await sync_to_async(thywill.members)("rooms", "lobby") == sorted([a.id, b.id])


# --- transactions (sync code) ------------------------------------------------------


def sync_issued() -> Member:
    return async_to_sync(issued)()


def sync_received(member: Member, feed) -> list:
    return async_to_sync(received)(member, feed)


@pytest.fixture
def member_in_lobby() -> Iterator[tuple[Member, object]]:
    member = sync_issued()
    async_to_sync(in_group)("lobby", member)
    feed = member.feed()
    sync_received(member, feed)
    yield member, feed


def test_outside_a_transaction_a_sync_send_is_published_at_once(member_in_lobby):
    member, feed = member_in_lobby
    thywill.send_to_group("rooms", "lobby", {"n": 1})
    assert sync_received(member, feed) == [{"n": 1}]


def test_inside_a_transaction_a_send_waits_for_the_commit(member_in_lobby):
    member, feed = member_in_lobby
    with transaction.atomic():
        thywill.send_to_group("rooms", "lobby", {"n": 1})
        with transaction.atomic():  # released by the outermost commit only
            thywill.send_to_group("rooms", "lobby", {"n": 2})
        assert sync_received(member, feed) == []
    assert sync_received(member, feed) == [{"n": 1}, {"n": 2}]


def test_a_rolled_back_send_is_never_published(member_in_lobby):
    member, feed = member_in_lobby
    with pytest.raises(RuntimeError), transaction.atomic():
        thywill.send_to_group("rooms", "lobby", {"n": "lost"})
        raise RuntimeError("roll back")
    with transaction.atomic():
        thywill.send_to_group("rooms", "lobby", {"n": 2})
        transaction.set_rollback(True)
    thywill.send_to_group("rooms", "lobby", {"n": 3})
    assert sync_received(member, feed) == [{"n": 3}]


def test_a_mistake_inside_a_transaction_raises_at_the_call(member_in_lobby):
    with pytest.raises(ValueError, match="invalid group name"), transaction.atomic():
        thywill.send_to_group("rooms", "no spaces", 1)


def test_a_post_save_signal_handler_sends_on_commit(member_in_lobby):
    member, feed = member_in_lobby

    def announce(sender, instance, created, **kwargs):
        thywill.send_to_group("rooms", "lobby", {"departed": instance.client_id})

    post_save.connect(announce, sender=Departure)
    try:
        with transaction.atomic():
            Departure.objects.create(client_id="x1")
            assert sync_received(member, feed) == []
    finally:
        post_save.disconnect(announce, sender=Departure)
    assert sync_received(member, feed) == [{"departed": "x1"}]


# --- users -------------------------------------------------------------------------


async def test_a_user_send_reaches_every_client_of_that_user_and_no_other():
    tab1, tab2 = await issued(user_id="7"), await issued(user_id="7")
    other, anonymous = await issued(user_id="8"), await issued()
    feeds = {m.id: m.feed() for m in (tab1, tab2, other, anonymous)}
    for feed in feeds.values():
        await feed.read()
    await thywill.asend_to_user(7, "ready", app="rooms")
    assert await received(tab1, feeds[tab1.id]) == ["READY"]
    assert await received(tab2, feeds[tab2.id]) == ["READY"]
    assert await received(other, feeds[other.id]) == []
    assert await received(anonymous, feeds[anonymous.id]) == []


async def test_a_user_send_without_an_application_reaches_every_application():
    rooms_tab, echo_tab = await issued(user_id="7"), await issued("echo", user_id="7")
    feeds = {m.id: m.feed() for m in (rooms_tab, echo_tab)}
    for feed in feeds.values():
        await feed.read()
    user = await get_user_model().objects.aget(pk=7)
    await thywill.asend_to_user(user, "ready")
    assert await received(rooms_tab, feeds[rooms_tab.id]) == ["READY"]
    assert await received(echo_tab, feeds[echo_tab.id]) == ["ready"]


async def test_a_user_send_reaches_only_tabs_opened_before_it():
    await thywill.asend_to_user(7, "old", app="rooms")
    tab = await issued(user_id="7")
    assert await received(tab) == []


async def test_a_client_that_left_no_longer_follows_its_users_channel():
    tab = await issued(user_id="7")
    await get_runtime().events.handle_disconnect(tab.app, tab.identity)
    assert await get_runtime().push.memberships(tab.id) == []


async def test_user_counts_count_each_users_clients_in_a_group():
    tabs = [await issued(user_id="7"), await issued(user_id="7"), await issued(user_id="8")]
    anonymous = await issued()
    await in_group("lobby", *tabs, anonymous)
    assert await thywill.auser_counts("rooms", "lobby") == {"7": 2, "8": 1}
    assert await sync_to_async(thywill.user_counts)("rooms", "lobby") == {"7": 2, "8": 1}
    who = await tabs[0].sent_one({"type": "room.users", "room": "lobby"})
    assert who["value"] == {"7": 2, "8": 1}


async def test_a_handler_gets_the_clients_user_lazily():
    user = await get_user_model().objects.acreate(username="ada")
    tab, anonymous = await issued(user_id=str(user.pk)), await issued()
    # (the rooms application's Upper pipe capitalises every string it sends)
    assert (await tab.sent_one({"type": "whoami"}))["value"] == "ADA"
    assert (await tab.sent_one({"type": "awhoami"}))["value"] == "ADA"
    assert (await anonymous.sent_one({"type": "whoami"}))["value"] == ""


# --- disconnect --------------------------------------------------------------------


async def test_a_disconnected_client_can_no_longer_read_or_send():
    tab = await issued()
    feed = tab.feed()
    await feed.read()
    await thywill.adisconnect(tab.id)
    with pytest.raises(RejectedError) as ended:
        await feed.read()
    assert ended.value.code is ErrorCode.DISCONNECTED
    with pytest.raises(RejectedError) as resumed:  # a reconnect from the same cursor
        await tab.feed(feed.cursor).read()
    assert resumed.value.code is ErrorCode.DISCONNECTED
    with pytest.raises(RejectedError) as sent:
        await tab.send({"type": "ask"})
    assert sent.value.code is ErrorCode.DISCONNECTED


async def test_a_disconnected_client_that_lapsed_is_not_connected_again():
    tab = await issued()
    await thywill.adisconnect(tab.id)
    runtime = get_runtime()
    await runtime.events.handle_disconnect(tab.app, tab.identity)  # its lease lapsed
    await runtime.push.ack_lapsed(tab.id)
    with pytest.raises(RejectedError) as returned:
        await runtime.feed(tab.identity, Cursor()).next(0.1)
    assert returned.value.code is ErrorCode.DISCONNECTED


# --- the management command --------------------------------------------------------


def test_the_send_command_sends_to_a_group_a_client_and_a_user(member_in_lobby):
    member, feed = member_in_lobby
    call_command("thywill_send", "--group", "rooms", "lobby", '{"n": 1}')
    assert sync_received(member, feed) == [{"n": 1}]
    call_command("thywill_send", f"--client={member.id}", '"hi"')
    assert sync_received(member, feed) == ["HI"]
    call_command("thywill_send", "--user", "9", "--app", "rooms", "[]")
    assert sync_received(member, feed) == []


def test_the_send_command_takes_a_client_id_that_starts_with_a_dash():
    # One id in 64 starts with '-'; as a separate word argparse reads it as an option.
    member = async_to_sync(issued)(client_id="-" + new_client_id()[1:])
    feed = member.feed()
    sync_received(member, feed)
    call_command("thywill_send", f"--client={member.id}", '"hi"')
    assert sync_received(member, feed) == ["HI"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--group", "rooms", "lobby", "{nope"], "not JSON"),
        (["--group", "rooms", "no spaces", "1"], "invalid group name"),
        (["--client", "x", "1"], "not a client id"),
        (["--group", "rooms", "lobby", "--app", "rooms", "1"], "--app goes with --user"),
    ],
)
def test_the_send_command_explains_what_is_wrong(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("thywill_send", *args)


# --- per-user presence -------------------------------------------------------------


@pytest.fixture
def user_rooms(settings) -> str:
    """An application like rooms whose presence is per user."""
    settings.THYWILL_APPLICATIONS = {
        **settings.THYWILL_APPLICATIONS,
        "userrooms": {"BACKEND": "tests.apps.rooms.UserRoomsApplication", "OPTIONS": {}},
    }
    return "userrooms"


async def presence_events(feed) -> list:
    return [d for d in await data_read(feed) if isinstance(d, dict) and "group" in d]


async def test_per_user_presence_announces_a_users_first_join_and_last_leave(user_rooms):
    watcher = await issued(user_rooms, user_id="1")
    await in_group("lobby", watcher)
    feed = watcher.feed()
    await feed.read()
    tab1, tab2 = (
        await issued(user_rooms, user_id="7"),
        await issued(user_rooms, user_id="7"),
    )
    await in_group("lobby", tab1, tab2)
    joined = {"type": "thywill.join", "group": "lobby", "userId": "7"}
    assert await presence_events(feed) == [joined]
    await tab1.sent_one({"type": "room.leave", "room": "lobby"})
    assert await presence_events(feed) == []  # tab2 is still there
    assert await thywill.auser_counts(user_rooms, "lobby") == {"1": 1, "7": 1}
    await get_runtime().events.handle_disconnect(tab2.app, tab2.identity)  # it lapsed
    left = {"type": "thywill.leave", "group": "lobby", "userId": "7"}
    assert await presence_events(feed) == [left]
    await in_group("lobby", tab1)  # the user is back
    assert await presence_events(feed) == [joined]


async def test_per_user_presence_announces_anonymous_clients_as_clients(user_rooms):
    watcher, anonymous = await issued(user_rooms), await issued(user_rooms)
    await in_group("lobby", watcher)
    feed = watcher.feed()
    await feed.read()
    await in_group("lobby", anonymous)
    assert await presence_events(feed) == [
        {"type": "thywill.join", "group": "lobby", "clientId": anonymous.id}
    ]


async def test_per_user_presence_leaves_no_sets_behind(user_rooms):
    tab1, tab2 = (
        await issued(user_rooms, user_id="7"),
        await issued(user_rooms, user_id="7"),
    )
    await in_group("lobby", tab1, tab2)
    runtime = get_runtime()
    for tab in (tab1, tab2):
        await runtime.events.handle_disconnect(tab.app, tab.identity)
        assert await runtime.push.memberships(tab.id) == []
    assert await runtime.push.memberships("7") == []


def test_presence_is_client_or_user(settings):
    settings.THYWILL_APPLICATIONS = {
        "odd": {"BACKEND": "tests.apps.rooms.UserRoomsApplication", "OPTIONS": {}}
    }
    app = get_runtime().application("odd").app
    app.presence = "tab"
    with pytest.raises(ValueError, match="presence must be one of client, user"):
        ApplicationSpec.of(app)
