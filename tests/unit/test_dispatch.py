"""Events through their flows: typed handlers, groups and presence, the outbox, feeds."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.support.members import TRACE_ID, Member, channel_data, data_read
from thywill.events.routing import message_type_of
from thywill.exceptions import PushUnavailableError
from thywill.feed.cursor import Cursor
from thywill.identity.tokens import ClientIdentity, new_client_id
from thywill.models import Client
from thywill.wire.results import Outcome
from thywill.wiring.runtime import get_runtime

pytestmark = pytest.mark.django_db(transaction=True)

PROMPTLY = 2.0


# --- routing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"type": "chat.say"}, "chat.say"),
        ({"type": "say"}, "say"),
        ({"type": "message"}, None),
        ({"type": "join"}, None),
        ({"type": "group.message"}, None),
        ({"type": "Chat"}, None),
        ({"type": "_private"}, None),
        ({"type": 3}, None),
        ("say", None),
        ({"type": "a." * 10 + "b"}, None),
    ],
)
def test_message_type_of(data, expected):
    """Only a lower-case dotted type that names no event of its own is routed by type."""
    assert message_type_of(data) == expected


async def test_typed_message_goes_to_its_handler_and_others_to_on_message():
    """{"type": "shout"} runs on_shout; an unknown type and untyped data run on_message."""
    alice = Member()
    feed = alice.feed()
    await alice.send({"type": "shout", "text": "hi"}, {"type": "nope"}, 5)
    assert await data_read(feed) == ["HI", {"untyped": {"type": "nope"}}, {"untyped": 5}]


async def test_handler_pipes_apply_to_their_handler_only():
    """room.say has a schema pipe: a bad one fails with bad_message, nothing is sent."""
    alice = Member()
    result = await alice.sent_one({"type": "room.say", "room": "r"})
    assert TRACE_ID.fullmatch(result.pop("traceId"))
    assert result == {
        "seq": 1,
        "status": "failed",
        "code": "bad_message",
        "reason": "The message is not valid: data.text is required.",
    }


async def test_fail_in_the_core_sends_nothing_but_the_reason():
    """A handler that replies, then calls fail(), sends nothing but the reason."""
    alice = Member()
    feed = alice.feed()
    result = await alice.sent_one({"type": "refuse"})
    assert TRACE_ID.fullmatch(result.pop("traceId"))
    assert result == {
        "seq": 1,
        "status": "failed",
        "code": "failed",
        "reason": "The core says no.",
    }
    assert await data_read(feed) == []


# --- groups and presence ----------------------------------------------------------------


async def test_group_message_reaches_every_member_once_written_once():
    """A group message is one entry in the group channel, read by each member's feed."""
    alice, bob, carol = Member(), Member(), Member()
    feeds = {m.id: m.feed() for m in (alice, bob, carol)}
    for feed in feeds.values():
        await feed.read()
    await alice.send({"type": "room.join", "room": "lobby"})
    await bob.send({"type": "room.join", "room": "lobby"})
    await alice.send({"type": "room.say", "room": "lobby", "text": "hello"})
    said = {"from": alice.id, "text": "hello"}
    assert await channel_data("group:rooms:lobby") == [
        {"type": "thywill.join", "group": "lobby", "clientId": alice.id},
        {"type": "thywill.join", "group": "lobby", "clientId": bob.id},
        said,
    ]
    assert await data_read(feeds[alice.id]) == [
        {"type": "thywill.join", "group": "lobby", "clientId": bob.id},
        said,
    ]
    assert await data_read(feeds[bob.id]) == [said]
    assert await data_read(feeds[carol.id]) == []


async def test_a_handler_sending_text_that_cannot_be_encoded_breaks_no_feed():
    """Data a handler makes that UTF-8 cannot carry (a lone surrogate) fails that event,
    stores nothing, and the group's feed goes on as before."""
    alice, bob = Member(), Member()
    await alice.send({"type": "room.join", "room": "r"})
    await bob.send({"type": "room.join", "room": "r"})
    feed = bob.feed()
    await feed.read()
    [result] = await alice.send({"type": "room.char", "room": "r", "code": 0xD800})
    assert result.outcome is Outcome.ERROR
    await alice.send({"type": "room.char", "room": "r", "code": 0x263A})
    assert await data_read(feed) == [{"char": "\u263a"}]


async def test_members_and_groups_are_listed():
    """ctx.members() and ctx.groups() (sync) and ctx.amembers() (async) see the backend."""
    alice, bob = Member(), Member()
    await alice.send({"type": "room.join", "room": "a"}, {"type": "room.join", "room": "b"})
    await bob.send({"type": "room.join", "room": "a"})
    feed = alice.feed(Cursor())
    await feed.read()
    await alice.send({"type": "room.who", "room": "a"}, {"type": "room.awho", "room": "a"})
    assert await data_read(feed) == [
        {"members": sorted([alice.id, bob.id]), "groups": ["a", "b"]},
        {"members": sorted([alice.id, bob.id])},
    ]


async def test_joining_twice_and_leaving_when_out_do_nothing():
    """A second join publishes no second join event; a leave when out publishes nothing."""
    alice = Member()
    await alice.send({"type": "room.join", "room": "r"}, {"type": "room.join", "room": "r"})
    await alice.send(
        {"type": "room.leave", "room": "r"}, {"type": "room.leave", "room": "r"}
    )
    assert [m["type"] for m in await channel_data("group:rooms:r")] == [
        "thywill.join",
        "thywill.leave",
    ]
    assert await get_runtime().push.members("group:rooms:r") == []


async def test_quiet_groups_join_and_leave_without_announcing():
    """A group in quiet_groups: members are kept and messages delivered, but nobody is
    told of joins and leaves, at join, leave or disconnect."""
    alice, bob = Member(), Member()
    feeds = {m.id: m.feed() for m in (alice, bob)}
    for feed in feeds.values():
        await feed.read()
    await alice.send({"type": "room.join", "room": "everyone"})
    await bob.send({"type": "room.join", "room": "everyone"})
    await alice.send({"type": "room.say", "room": "everyone", "text": "all"})
    said = {"from": alice.id, "text": "all"}
    assert await channel_data("group:rooms:everyone") == [said]
    assert await data_read(feeds[alice.id]) == [said]
    assert await data_read(feeds[bob.id]) == [said]
    assert await get_runtime().push.members("group:rooms:everyone") == sorted(
        [alice.id, bob.id]
    )
    await bob.send({"type": "room.leave", "room": "everyone"})
    assert (
        await get_runtime().events.handle_disconnect(alice.app, alice.identity)
        is Outcome.OK
    )
    assert await get_runtime().push.members("group:rooms:everyone") == []
    # What the application's on_disconnect sent, and no leave event.
    assert await channel_data("group:rooms:everyone") == [said, {"bye": alice.id}]


async def test_a_quiet_join_to_an_empty_group_survives_in_the_cursor():
    """Long-poll builds a feed per request from the cursor: a group joined quietly while
    it had no message yet must be in that cursor, or the next feed never reads it."""
    alice = Member()
    first = alice.feed(Cursor())
    await first.read()
    await alice.send({"type": "room.join", "room": "everyone"})
    assert await data_read(first) == []
    second = alice.feed(first.cursor)
    await alice.send({"type": "room.say", "room": "everyone", "text": "hi"})
    assert await data_read(second) == [{"from": alice.id, "text": "hi"}]


async def test_open_feed_picks_up_a_group_joined_later():
    """A feed waiting in next() takes the join in and delivers the group's next message."""
    alice, bob = Member(), Member()
    await bob.send({"type": "room.join", "room": "r"})
    await bob.send({"type": "room.say", "room": "r", "text": "before"})
    feed = alice.feed()
    await feed.read()
    waiting = asyncio.create_task(feed.next(30))
    await asyncio.sleep(0)
    await alice.send({"type": "room.join", "room": "r"})
    async with asyncio.timeout(PROMPTLY):
        while "group:rooms:r" not in feed.channels:  # noqa: ASYNC110  (no event to await)
            await asyncio.sleep(0.01)
    # Only a control entry came: nothing to deliver, so the feed goes on waiting.
    assert not waiting.done()
    await bob.send({"type": "room.say", "room": "r", "text": "after"})
    async with asyncio.timeout(PROMPTLY):
        batch = await waiting
    assert [json.loads(m.payload) for m in batch.messages] == [
        {"from": bob.id, "text": "after"}
    ]


async def test_a_join_retried_after_a_failed_release_still_reaches_the_feed(settings):
    """The first attempt joined but its publish failed: the resent join subscribes."""
    settings.THYWILL_COMPONENTS = {
        "push": {"BACKEND": "tests.apps.fixture_components.FlakyPushBackend"}
    }
    alice, bob = Member(), Member()
    await bob.send({"type": "room.join", "room": "r"})
    feed = alice.feed()
    await feed.read()
    get_runtime().push.fail_next_sequenced = True
    with pytest.raises(PushUnavailableError):
        await alice.send({"type": "room.join", "room": "r"})
    alice.seq -= 1  # the client resends the same batch
    [result] = await alice.send({"type": "room.join", "room": "r"})
    assert result.outcome is Outcome.OK
    await bob.send({"type": "room.say", "room": "r", "text": "after"})
    assert await data_read(feed) == [{"from": bob.id, "text": "after"}]
    assert await data_read(alice.feed()) == [{"from": bob.id, "text": "after"}]


async def test_cursor_keeps_group_positions_across_feeds():
    """A new feed from a saved cursor resumes the group channel without repeats."""
    alice, bob = Member(), Member()
    await alice.send({"type": "room.join", "room": "r"})
    feed = alice.feed()
    await feed.read()
    await bob.send({"type": "room.say", "room": "r", "text": "one"})
    assert len(await data_read(feed)) == 1
    cursor = feed.cursor
    await bob.send({"type": "room.say", "room": "r", "text": "two"})
    resumed = alice.feed(Cursor.decode(cursor.encode()))
    assert [m["text"] for m in await data_read(resumed)] == ["two"]


async def test_a_feed_from_before_the_join_learns_it_from_the_private_channel():
    """A client that joined while no feed was open gets the group from the join on."""
    alice, bob = Member(), Member()
    await bob.send({"type": "room.join", "room": "r"})
    await bob.send({"type": "room.say", "room": "r", "text": "before"})
    await alice.send({"type": "room.join", "room": "r"})
    await bob.send({"type": "room.say", "room": "r", "text": "after"})
    assert [m.get("text") for m in await data_read(alice.feed())] == ["after"]


async def test_leaving_stops_the_feed_reading_the_group():
    """After a leave, the client's feed drops the group; members get the leave event."""
    alice, bob = Member(), Member()
    for member in (alice, bob):
        await member.send({"type": "room.join", "room": "r"})
    alice_feed, bob_feed = alice.feed(), bob.feed()
    await alice_feed.read()
    await bob_feed.read()
    await alice.send({"type": "room.leave", "room": "r"})
    await bob.send({"type": "room.say", "room": "r", "text": "gone?"})
    assert await data_read(alice_feed) == []
    assert "group:rooms:r" not in alice_feed.channels
    assert await data_read(bob_feed) == [
        {"type": "thywill.leave", "group": "r", "clientId": alice.id},
        {"from": bob.id, "text": "gone?"},
    ]


async def test_a_feed_ignores_cursor_groups_the_client_is_not_in():
    """A cursor naming a group the client never joined reads nothing from it."""
    alice, bob = Member(), Member()
    await bob.send({"type": "room.join", "room": "secret"})
    await bob.send({"type": "room.say", "room": "secret", "text": "psst"})
    forged = Cursor({"group:rooms:secret": "0-0"})
    feed = alice.feed(forged)
    assert await data_read(feed) == []
    assert feed.channels == [alice.identity.channel]


async def test_lost_private_history_reads_every_group_with_a_reset(settings):
    """When the private channel's history is gone, the feed reads each group, reset."""
    alice, bob = Member(), Member()
    await alice.send({"type": "room.join", "room": "r"})
    await bob.send({"type": "room.say", "room": "r", "text": "x"})
    feed = alice.feed(Cursor({alice.identity.channel: "forged-1"}))
    batch = await feed.read()
    assert list(batch.reset_channels) == [alice.identity.channel, "group:rooms:r"]


async def test_application_data_is_never_taken_for_a_control_entry():
    """Data shaped like a control entry, sent by an application, is delivered as data."""
    alice = Member()
    feed = alice.feed()
    fake = {"action": "subscribe", "channel": "group:rooms:secret", "after": None}
    await alice.send(fake)
    assert await data_read(feed) == [{"untyped": fake}]
    assert feed.channels == [alice.identity.channel]


async def test_disconnect_runs_the_handler_and_leaves_every_group():
    """handle_disconnect runs on_disconnect, then the client leaves with leave events."""
    alice, bob = Member(), Member()
    for member in (alice, bob):
        await member.send({"type": "room.join", "room": "r"})
    await alice.send({"type": "room.join", "room": "s"})
    assert (
        await get_runtime().events.handle_disconnect(alice.app, alice.identity)
        is Outcome.OK
    )
    assert await get_runtime().push.memberships(alice.id) == []
    assert await get_runtime().push.members("group:rooms:r") == [bob.id]
    assert (await channel_data("group:rooms:r"))[-2:] == [
        {"type": "thywill.leave", "group": "r", "clientId": alice.id},
        {"bye": alice.id},
    ]


# --- the outbox and transactions --------------------------------------------------------


async def test_handler_that_writes_and_raises_sends_nothing_and_writes_nothing():
    """A sync handler's writes roll back with its exception; its reply is not released."""
    alice = Member()
    feed = alice.feed()
    written = new_client_id()
    result = await alice.sent_one({"type": "db.write", "id": written, "raise": True})
    assert result["status"] == "error"
    assert await data_read(feed) == []
    assert not await Client.objects.filter(id=written).aexists()


async def test_handler_whose_transaction_rolls_back_sends_nothing():
    """A handler that marks its transaction for rollback sends nothing: an error."""
    alice = Member()
    feed = alice.feed()
    written = new_client_id()
    result = await alice.sent_one({"type": "db.write", "id": written, "rollback": True})
    assert result["status"] == "error"
    assert await data_read(feed) == []
    assert not await Client.objects.filter(id=written).aexists()


async def test_committed_handler_releases_after_the_write():
    """A handler whose transaction commits releases its reply; the row is there."""
    alice = Member()
    feed = alice.feed()
    written = new_client_id()
    assert (await alice.sent_one({"type": "db.write", "id": written}))["status"] == "ok"
    assert await data_read(feed) == [{"written": written}]
    assert await Client.objects.filter(id=written).aexists()


async def test_failed_flow_changes_no_group():
    """A message that joins, says and then fails changes no membership and sends nothing."""
    alice = Member()
    result = await alice.sent_one({"type": "join.then.refuse", "room": "r"})
    assert result["status"] == "failed"
    assert await get_runtime().push.members("group:rooms:r") == []
    assert await channel_data("group:rooms:r") == []


async def test_connect_releases_its_sends():
    """The connect event's replies are published (testkit welcomes each client)."""
    identity = ClientIdentity(new_client_id(), "testkit", "h" * 32)
    result = await get_runtime().events.handle_connect(
        get_runtime().application("testkit"), identity
    )
    assert result.outcome is Outcome.OK
    assert await channel_data(identity.channel) == [{"welcome": identity.client_id}]


async def test_a_pipeline_that_cannot_be_built_fails_the_event_not_the_server(
    settings, logs
):
    """A broken pipe in settings (checks may not have run) gives an error result, logged."""
    settings.THYWILL_PIPELINE = ["no.such.module.Pipe"]
    member = Member()
    [result] = await member.send({"type": "room.join", "room": "r"})
    assert result.outcome is Outcome.ERROR
    [record] = [r for r in logs.records if r.levelname == "ERROR"]
    assert "message" in record.getMessage()
    assert "no.such.module" in logs.text
