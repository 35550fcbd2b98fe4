"""SharedFeed: several clients' feeds read and waited on together, in one process on the
in-memory push backend (the transports are tested live in
tests/integration/test_shared_connections.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

import pytest

from thywill.edge.feeds import parse_tokens
from thywill.exceptions import ErrorCode, RejectedError
from thywill.feed.cursor import Cursor
from thywill.feed.feed import Batch, ClientFeed
from thywill.feed.shared import SharedFeed
from thywill.identity.tokens import ClientIdentity, new_client_id
from thywill.push.base import ReadResult, StoredMessage
from thywill.push.locmem import LocMemPushBackend
from thywill.wire.inbound import AuthFrame, parse_auth_frame
from thywill.wire.outbound import encode_batches, encode_client_batch
from thywill.wiring.runtime import get_runtime

pytestmark = pytest.mark.django_db(transaction=True)

TTL = 0.6


@pytest.fixture(autouse=True)
def short_leases(settings):
    settings.THYWILL_LIMITS = {"PRESENCE_TTL": TTL}


@pytest.fixture(autouse=True)
async def no_sweeper():
    """Stop this loop's background sweeper afterwards."""
    yield
    await get_runtime().presence.stop()


def identity(**changes: object) -> ClientIdentity:
    return dataclasses.replace(ClientIdentity(new_client_id(), "echo", "s" * 32), **changes)


def shared(*identities: ClientIdentity) -> SharedFeed:
    runtime = get_runtime()
    feeds = [runtime.feed(i, Cursor.decode("")) for i in identities]
    return SharedFeed(runtime.push, feeds)


async def say(client: ClientIdentity, *texts: str) -> None:
    for text in texts:
        await get_runtime().push.publish(client.channel, json.dumps(text))


def texts(batch) -> list[str]:
    return [json.loads(m.payload) for m in batch.messages]


async def test_each_client_reads_only_its_own_messages_once():
    """next() returns the clients that have something, each with its messages only;
    the next read from their cursors has nothing more."""
    a, b, c = identity(), identity(), identity()
    feed = shared(a, b, c)
    await say(a, "a1", "a2")
    await say(c, "c1")

    ready = await feed.next(0)

    assert [(index, texts(batch)) for index, batch in ready] == [
        (0, ["a1", "a2"]),
        (2, ["c1"]),
    ]
    assert {m.channel for m in ready[0][1].messages} == {a.channel}
    assert ready[0][1].cursor == feed.feeds[0].cursor
    assert await feed.next(0) == []
    await say(b, "b1")
    assert [(i, texts(x)) for i, x in await feed.next(0)] == [(1, ["b1"])]


async def test_one_wait_wakes_for_any_client():
    """A waiting next() returns as soon as any one client has a message."""
    a, b = identity(), identity()
    feed = shared(a, b)
    assert await feed.next(0) == []
    waiting = asyncio.create_task(feed.next(5))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    started = time.monotonic()
    await say(b, "wake")
    ready = await asyncio.wait_for(waiting, 2)
    assert time.monotonic() - started < 1
    assert [(i, texts(x)) for i, x in ready] == [(1, ["wake"])]


async def test_nothing_until_the_timeout_while_every_lease_is_renewed():
    """With nothing to read, next() answers [] at its timeout, having kept every
    client's lease alive past its TTL."""
    a, b = identity(), identity()
    presence = get_runtime().presence
    for client in (a, b):
        await presence.renew(client, force=True)
    await presence.stop()  # sweep by hand only
    feed = shared(a, b)
    started = time.monotonic()
    assert await feed.next(2 * TTL) == []
    assert 2 * TTL - 0.05 <= time.monotonic() - started < 2 * TTL + 1
    assert await presence.sweep() == 0  # neither lapsed
    assert await get_runtime().push.present([a.client_id, b.client_id]) == {
        a.client_id,
        b.client_id,
    }


async def test_an_expired_token_refuses_with_the_index_of_its_client():
    a, b = identity(), identity(expires_at=time.time() - 1)
    with pytest.raises(RejectedError) as refused:
        await shared(a, b).next(1)
    assert refused.value.code is ErrorCode.TOKEN_EXPIRED
    assert refused.value.index == 1
    assert refused.value.as_json() == {
        "code": "token_expired",
        "message": "The token has expired; load the page again.",
        "index": 1,
    }


async def test_a_token_expiring_while_waiting_ends_the_wait_at_its_expiry():
    """A token that expires during the wait ends it then: the next call refuses it."""
    a, b = identity(expires_at=time.time() + 0.3), identity()
    feed = shared(a, b)
    started = time.monotonic()
    assert await feed.next(5) == []
    assert time.monotonic() - started < 1
    with pytest.raises(RejectedError) as refused:
        await feed.next(5)
    assert (refused.value.code, refused.value.index) == (ErrorCode.TOKEN_EXPIRED, 0)


async def test_a_client_ended_while_waiting_is_refused_with_its_index():
    """The server ending one client wakes the wait and refuses it: ``disconnected``."""
    a, b = identity(), identity()
    feed = shared(a, b)
    await say(a, "first")
    await feed.next(0)
    waiting = asyncio.create_task(feed.next(5))
    await asyncio.sleep(0.05)
    await get_runtime().events.end_client(b)
    with pytest.raises(RejectedError) as refused:
        await asyncio.wait_for(waiting, 2)
    assert (refused.value.code, refused.value.index) == (ErrorCode.DISCONNECTED, 1)


async def test_an_ended_session_is_refused_with_the_index_of_its_client():
    a, b = identity(), identity(session_hash="t" * 32)
    await get_runtime().push.revoke_session("t" * 32, 60)
    with pytest.raises(RejectedError) as refused:
        await shared(a, b).check_sessions()
    assert (refused.value.code, refused.value.index) == (ErrorCode.SESSION_ENDED, 1)


class PausingBackend(LocMemPushBackend):
    """The in-memory backend, whose read of one channel waits until it is let go: a
    networked backend's read, which suspends, cut short there."""

    def __init__(self, paused: str) -> None:
        super().__init__()
        self.paused = paused
        self.reading = asyncio.Event()
        self.go = asyncio.Event()

    async def read(self, channel: str, after: str | None, limit: int = 100) -> ReadResult:
        if channel == self.paused:
            self.reading.set()
            await self.go.wait()
        return await super().read(channel, after, limit)


async def test_a_read_cut_short_leaves_every_cursor_where_it_was():
    """A drain cancels a shared long-poll between two clients' reads: the first
    client's cursor does not move past a batch that will never be sent, and the next
    read returns both clients' messages."""
    a, b = identity(), identity()
    push = PausingBackend(paused=b.channel)
    presence = get_runtime().presence
    feed = SharedFeed(
        push, [ClientFeed(push, presence, i, Cursor.decode("")) for i in (a, b)]
    )
    await push.publish(a.channel, json.dumps("a1"))
    await push.publish(b.channel, json.dumps("b1"))
    before = [f.cursor for f in feed.feeds]

    reading = asyncio.create_task(feed.read())
    await asyncio.wait_for(push.reading.wait(), 2)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading

    assert [f.cursor for f in feed.feeds] == before
    push.go.set()
    assert [(i, texts(batch)) for i, batch in await feed.read()] == [
        (0, ["a1"]),
        (1, ["b1"]),
    ]


def test_an_error_without_index_keeps_its_json():
    error = RejectedError(ErrorCode.BAD_TOKEN, "no")
    assert error.as_json() == {"code": "bad_token", "message": "no"}
    assert error.at(3).as_json() == {"code": "bad_token", "message": "no", "index": 3}
    assert error.index is None


# --- the wire of shared connections ---------------------------------------------------


@pytest.mark.parametrize(
    ("header", "tokens"),
    [
        ("a", ["a"]),
        ("a,b", ["a", "b"]),
        ("  a , b\t,c ", ["a", "b", "c"]),
        ("a,,b", ["a", "", "b"]),  # the empty one is refused as a bad token, by index
        ("", []),
        ("  ", []),
    ],
)
def test_the_tokens_header_is_split_on_commas(header: str, tokens: list[str]) -> None:
    assert parse_tokens(header) == tokens


def test_an_auth_frame_with_tokens_names_a_shared_socket() -> None:
    frame = json.dumps({"type": "auth", "tokens": ["t1", "t2"]})
    assert parse_auth_frame(frame, max_bytes=1000) == AuthFrame(["t1", "t2"])
    assert parse_auth_frame('{"type": "auth", "token": "t"}', max_bytes=1000) == AuthFrame(
        "t", sent_in_batch=False
    )
    frame = json.dumps({"type": "auth", "token": "t", "sentInBatch": True})
    assert parse_auth_frame(frame, max_bytes=1000) == AuthFrame("t", sent_in_batch=True)
    for bad in (
        {"type": "auth", "tokens": "t1,t2"},
        {"type": "auth", "tokens": ["t1"], "token": "t1"},
        {"type": "auth", "token": "t", "sentInBatch": 1},
    ):
        with pytest.raises(RejectedError) as refused:
            parse_auth_frame(json.dumps(bad), max_bytes=1000)
        assert refused.value.code is ErrorCode.BAD_REQUEST


def test_shared_batches_encode_as_the_protocol_says() -> None:
    message = StoredMessage("client:A", "1-0", '{"x":1}')
    full = Batch([message], [], Cursor({"client:A": "1-0"}))
    empty = Batch([], ["client:B"], Cursor())
    assert json.loads(encode_batches([("A", full), ("B", empty)])) == {
        "batches": [
            {
                "client": "A",
                "messages": [{"channel": "client:A", "id": "1-0", "data": {"x": 1}}],
                "cursor": full.cursor.encode(),
                "reset": None,
            },
            {
                "client": "B",
                "messages": [],
                "cursor": "",
                "reset": {"channels": ["client:B"], "reason": "history_lost"},
            },
        ]
    }
    frame = json.loads(encode_client_batch("A", full, index=3, frame_type="batch"))
    assert (frame["type"], frame["client"], frame["index"]) == ("batch", "A", 3)
    assert frame["messages"][0]["data"] == {"x": 1}
