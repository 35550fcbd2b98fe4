"""ClientFeed.next(): what it asks of the push backend, on the in-memory backend (the
transports that call it are tested live in tests/integration)."""

from __future__ import annotations

import asyncio
import json

import pytest

from thywill.feed.cursor import Cursor
from thywill.feed.feed import ClientFeed
from thywill.identity.tokens import ClientIdentity, new_client_id
from thywill.push.base import ReadResult
from thywill.push.locmem import LocMemPushBackend
from thywill.wiring.runtime import get_runtime

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def no_sweeper():
    """Stop this loop's background sweeper afterwards."""
    yield
    await get_runtime().presence.stop()


class CountingBackend(LocMemPushBackend):
    """The in-memory backend, counting the reads it serves."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def read(self, channel: str, after: str | None, limit: int = 100) -> ReadResult:
        self.reads += 1
        return await super().read(channel, after, limit)


def feed_on(push: CountingBackend) -> tuple[ClientFeed, ClientIdentity]:
    client = ClientIdentity(new_client_id(), "echo", "s" * 32)
    return ClientFeed(push, get_runtime().presence, client, Cursor.decode("")), client


def texts(batch) -> list[str]:
    return [json.loads(m.payload) for m in batch.messages]


async def test_after_a_delivery_the_feed_waits_without_reading_again():
    """The read right after a delivery would find nothing: the feed asks the backend
    whether anything is new instead, and reads once when something is."""
    push = CountingBackend()
    feed, client = feed_on(push)
    await push.publish(client.channel, json.dumps("one"))
    assert texts(await feed.next(1.0)) == ["one"]
    reads_after_delivery = push.reads

    waiting = asyncio.create_task(feed.next(5.0))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    assert push.reads == reads_after_delivery
    await push.publish(client.channel, json.dumps("two"))
    batch = await asyncio.wait_for(waiting, 2)

    assert texts(batch) == ["two"]
    assert push.reads == reads_after_delivery + 1
    assert batch.cursor == feed.cursor


async def test_a_message_that_came_between_two_calls_is_returned_at_once():
    push = CountingBackend()
    feed, client = feed_on(push)
    await push.publish(client.channel, json.dumps("one"))
    assert texts(await feed.next(1.0)) == ["one"]
    await push.publish(client.channel, json.dumps("two"))

    assert texts(await asyncio.wait_for(feed.next(60.0), 2)) == ["two"]


async def test_no_wait_gives_what_is_there_or_an_empty_batch_at_the_cursor():
    """next(0) never waits: on a new feed and on one that has read before."""
    push = CountingBackend()
    feed, client = feed_on(push)
    empty = await asyncio.wait_for(feed.next(0), 2)
    assert not empty and empty.cursor == feed.cursor

    await push.publish(client.channel, json.dumps("one"))
    assert texts(await asyncio.wait_for(feed.next(0), 2)) == ["one"]
    cursor = feed.cursor
    reads = push.reads

    empty = await asyncio.wait_for(feed.next(0), 2)
    assert not empty
    assert empty.cursor == cursor == feed.cursor
    assert push.reads == reads


async def test_a_new_feed_with_nothing_to_read_waits_without_reading():
    """A long-poll's feed is new with every poll: it asks first, and reads once news
    comes."""
    push = CountingBackend()
    feed, client = feed_on(push)
    waiting = asyncio.create_task(feed.next(5.0))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    assert push.reads == 0
    await push.publish(client.channel, json.dumps("one"))

    assert texts(await asyncio.wait_for(waiting, 2)) == ["one"]
    assert push.reads == 1


async def test_a_cursor_whose_history_is_gone_gets_its_reset_at_once():
    push = CountingBackend()
    client = ClientIdentity(new_client_id(), "echo", "s" * 32)
    lost = Cursor({client.channel: "gone-7"})
    feed = ClientFeed(push, get_runtime().presence, client, lost)

    batch = await asyncio.wait_for(feed.next(60.0), 2)

    assert list(batch.reset_channels) == [client.channel]
    assert not batch.messages
