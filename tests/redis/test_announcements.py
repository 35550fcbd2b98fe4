"""What the Redis backend's announcements save: a live reader in another process reads a
message from its announcement, and a send costs two scripts (lock, then publish and
release). Counted on a redis-server of the test's own, from its INFO commandstats, so
nothing else that uses Redis can change the figures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.contracts.push import LONG_WAIT, new_channel, new_client, new_session
from tests.redis.conftest import new_prefix
from tests.support.redis_server import RedisServer
from thywill.exceptions import SessionRevokedError
from thywill.push import redis_scripts as lua
from thywill.push.redis import RedisPushBackend


@pytest.fixture
async def counted(
    private_redis: RedisServer,
) -> AsyncIterator[tuple[Callable[..., RedisPushBackend], aioredis.Redis]]:
    """A factory of backends on the private Redis (one key prefix: one site's server
    processes), and a plain client of that Redis to count its commands with."""
    prefix = new_prefix()
    made: list[RedisPushBackend] = []

    def make(**options: Any) -> RedisPushBackend:
        backend = RedisPushBackend(url=private_redis.url, key_prefix=prefix, **options)
        made.append(backend)
        return backend

    admin = aioredis.Redis.from_url(private_redis.url)
    yield make, admin
    for backend in made:
        await backend.aclose()
    await admin.aclose()


async def commands(admin: aioredis.Redis) -> dict[str, int]:
    """The calls of each command since the last reset, the counting client's own left
    out (``info`` and ``config``)."""
    stats = await admin.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
    return {n: c for n, c in calls.items() if n not in ("info", "config|resetstat")}


async def reset(admin: aioredis.Redis) -> None:
    await admin.config_resetstat()


async def follow(backend: RedisPushBackend, channel: str) -> str | None:
    """Read ``channel`` as a live reader does (read, then wait), until the backend's
    subscription is up and its read found the channel's newest position."""
    waiting = asyncio.create_task(backend.wait({channel: None}, 0.2))
    async with asyncio.timeout(LONG_WAIT):
        await waiting
        return (await backend.read(channel, None)).position


async def test_a_live_reader_in_another_process_reads_from_the_announcement(counted):
    """Once a reader follows a channel, a message published by another process reaches
    it with no Redis command of its own: the announcement woke it and carried the
    message, and what it read is what Redis holds."""
    make, admin = counted
    publisher, reader = make(), make()
    channel = new_channel()
    await publisher.publish(channel, '"first"')
    after = await follow(reader, channel)
    assert after is not None

    await reset(admin)
    waiting = asyncio.create_task(reader.wait({channel: after}, LONG_WAIT))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    position = await publisher.publish(channel, '"second"')
    async with asyncio.timeout(LONG_WAIT):
        assert await waiting is True
    result = await reader.read(channel, after)
    counted_calls = await commands(admin)

    assert [(m.position, m.payload) for m in result.messages] == [(position, '"second"')]
    assert result.position == position
    # One script: the publish (its XADD and PUBLISH are counted inside it).
    assert counted_calls.get("evalsha") == 1
    assert counted_calls.get("publish") == 1
    assert "xrange" not in counted_calls and "xrevrange" not in counted_calls
    assert await publisher.read(channel, after) == result


async def test_a_reader_with_nothing_new_learns_it_without_asking(counted):
    """A wait after the newest message asks Redis nothing: the announcements say where
    the channel stands."""
    make, admin = counted
    publisher, reader = make(), make()
    channel = new_channel()
    await publisher.publish(channel, '"only"')
    after = await follow(reader, channel)
    await reset(admin)
    assert await reader.wait({channel: after}, 0.1) is False
    assert (await reader.read(channel, after)).messages == []
    assert "evalsha" not in await commands(admin)


async def test_a_payload_over_the_announce_limit_is_read_from_redis(counted):
    """A message larger than ``announce_limit`` is announced without its payload: it
    wakes the reader, which reads it from Redis, whole."""
    make, admin = counted
    publisher, reader = make(announce_limit=16), make(announce_limit=16)
    channel = new_channel()
    after = await follow(reader, channel)
    await publisher.publish(new_channel(), '"loads the script"')
    big = '"' + "x" * 1000 + '"'
    waiting = asyncio.create_task(reader.wait({channel: after}, LONG_WAIT))
    await asyncio.sleep(0.1)
    await reset(admin)
    position = await publisher.publish(channel, big)
    async with asyncio.timeout(LONG_WAIT):
        assert await waiting is True
    result = await reader.read(channel, after)
    assert [(m.position, m.payload) for m in result.messages] == [(position, big)]
    assert (await commands(admin)).get("evalsha") == 2  # the publish, and the read


async def test_a_final_send_releases_its_lock_in_the_publish(counted):
    """A send's lock costs one script to take; its last publish releases it in the same
    script, so leaving the lock costs nothing."""
    make, admin = counted
    backend = make()
    client, channel = new_client(), new_channel()
    async with backend.client_lock(client):  # loads the scripts
        await backend.publish_sequenced(client, 1, [(channel, '"1"')], final=True)
    await reset(admin)
    async with backend.client_lock(client, session=new_session()):
        await backend.publish_sequenced(client, 2, [(channel, '"2"')], final=True)
        assert await admin.exists(f"{{{backend.key_prefix}}}:k:{client}") == 0
    assert (await commands(admin)).get("evalsha") == 2


async def test_a_lock_kept_by_a_send_that_is_not_final_is_released_on_leaving(counted):
    """Without ``final`` the lock stays taken until the holder leaves it."""
    make, admin = counted
    backend = make()
    client = new_client()
    key = f"{{{backend.key_prefix}}}:k:{client}"
    async with backend.client_lock(client):
        await backend.publish_sequenced(client, 1, [])
        assert await admin.exists(key) == 1
    assert await admin.exists(key) == 0


async def test_a_revoked_session_is_refused_in_the_lock_script(counted):
    """The revocation is checked in the script that takes the lock: nothing is taken."""
    make, admin = counted
    first, second = make(), make()
    client, session = new_client(), new_session()
    await first.revoke_session(session, 30)
    with pytest.raises(SessionRevokedError):
        async with second.client_lock(client, session=session):
            pass
    assert await admin.exists(f"{{{second.key_prefix}}}:k:{client}") == 0


async def test_a_broken_subscription_forgets_what_it_was_told(counted):
    """When the wake-up subscription breaks, announcements may have been missed: the
    process forgets what they told it, so a message published meanwhile is still read,
    in order, by a reader who waited."""
    make, admin = counted
    publisher, reader = make(), make()
    channel = new_channel()
    first = await publisher.publish(channel, '"1"')
    after = await follow(reader, channel)
    assert after == first

    await admin.client_kill_filter(_type="pubsub")
    missed = await publisher.publish(channel, '"2"')  # its announcement may be lost
    async with asyncio.timeout(LONG_WAIT):
        assert await reader.wait({channel: after}, LONG_WAIT) is True
        result = await reader.read(channel, after)
    assert [(m.position, m.payload) for m in result.messages] == [(missed, '"2"')]

    # Subscribed again, it trusts live announcements again.
    async with asyncio.timeout(LONG_WAIT):  # a wait starts with the subscription live
        assert await reader.wait({channel: missed}, 0) is False
    waiting = asyncio.create_task(reader.wait({channel: missed}, LONG_WAIT))
    third = await publisher.publish(channel, '"3"')
    async with asyncio.timeout(LONG_WAIT):
        assert await waiting is True
    assert [m.position for m in (await reader.read(channel, missed)).messages] == [third]


# How releases before the announcements published: append, then a bare wake-up that
# names the channel on {prefix}:wake (the same append, from redis_scripts' prelude).
LEGACY_PUBLISH = (
    lua.PRELUDE
    + """
local epoch, prev, id = append(KEYS[1], KEYS[2], ARGV[1], 'legacy', 1000, 60000, 60000)
redis.call('PUBLISH', ARGV[2], ARGV[3])
return epoch .. '-' .. id
"""
)


async def test_a_publish_by_an_older_release_is_not_missed(counted):
    """During a rolling upgrade, a process of an older release publishes a bare wake-up:
    a reader of a newer one, which trusted what announcements told it, is woken and
    reads the message from Redis."""
    make, admin = counted
    publisher, reader = make(), make()
    channel = new_channel()
    await publisher.publish(channel, '"new"')
    after = await follow(reader, channel)
    assert await reader.wait({channel: after}, 0) is False  # known: nothing new

    waiting = asyncio.create_task(reader.wait({channel: after}, LONG_WAIT))
    await asyncio.sleep(0.1)
    meta, stream = (
        f"{{{reader.key_prefix}}}:m:{channel}",
        f"{{{reader.key_prefix}}}:s:{channel}",
    )
    position = (
        await admin.eval(
            LEGACY_PUBLISH,
            2,
            meta,
            stream,
            '"old"',
            f"{{{reader.key_prefix}}}:wake",
            channel,
        )
    ).decode()
    async with asyncio.timeout(LONG_WAIT):
        assert await waiting is True
    result = await reader.read(channel, after)
    assert [(m.position, m.payload) for m in result.messages] == [(position, '"old"')]
