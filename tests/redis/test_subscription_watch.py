"""The watch on the wake-up subscription (``thywill/push/redis_watchdog.py``): a quiet
subscription is pinged and kept, a silent one is ended and made again. On a redis-server
of the test's own, which the test pauses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.contracts.push import LONG_WAIT, new_channel
from tests.redis.conftest import new_prefix
from tests.support.redis_server import RedisServer
from thywill.push.redis import RedisPushBackend

PING_EVERY = 1.0
"""The backend's ping interval with health_check_interval=1 (its shortest)."""


@pytest.fixture
async def watched(
    private_redis: RedisServer,
) -> AsyncIterator[tuple[RedisPushBackend, aioredis.Redis]]:
    """A backend whose subscription is live, pinged after a second of quiet; and a plain
    client of the same Redis."""
    backend = RedisPushBackend(
        url=private_redis.url, key_prefix=new_prefix(), health_check_interval=1
    )
    # Every command of the test's own client is bounded, paused Redis or not.
    admin = aioredis.Redis.from_url(private_redis.url, socket_timeout=LONG_WAIT)
    async with asyncio.timeout(LONG_WAIT):
        await backend.wait({new_channel(): None}, 0)  # subscribes first
    yield backend, admin
    await backend.aclose()
    await admin.aclose()


async def subscribers(admin: aioredis.Redis) -> set[int]:
    """The ids of the connections that are subscribed to something."""
    return {int(c["id"]) for c in await admin.client_list(_type="pubsub")}


async def test_a_quiet_subscription_is_pinged_and_kept(watched):
    """Four ping intervals without a message: the watchdog's pings keep the connection
    talking, so it is not taken for dead (three silent intervals would end it)."""
    _, admin = watched
    before = await subscribers(admin)
    assert len(before) == 1
    pings = int((await admin.info("commandstats"))["cmdstat_ping"]["calls"])
    await asyncio.sleep(4 * PING_EVERY)
    assert await subscribers(admin) == before
    later = int((await admin.info("commandstats"))["cmdstat_ping"]["calls"])
    assert later - pings >= 2


async def test_a_silent_subscription_is_ended_and_made_again(watched):
    """Redis stops answering (CLIENT PAUSE, as a stalled server or a dead network would
    look): after three silent intervals the subscription is dropped, and once Redis
    answers again a new one is made, on which announcements arrive as before."""
    backend, admin = watched
    before = await subscribers(admin)
    await admin.execute_command("CLIENT", "PAUSE", int(4.5 * PING_EVERY * 1000), "ALL")
    deadline = time.monotonic() + LONG_WAIT
    after = before
    while after == before or not after:
        assert time.monotonic() < deadline, "the subscription was not made again"
        await asyncio.sleep(0.2)
        async with asyncio.timeout(LONG_WAIT):
            after = await subscribers(admin)
    assert not after & before

    channel = new_channel()
    async with asyncio.timeout(LONG_WAIT):
        await backend.wait({channel: None}, 0)  # waits for the new subscription
        first = await backend.publish(channel, '"1"')
        waiting = asyncio.create_task(backend.wait({channel: first}, LONG_WAIT))
        second = await backend.publish(channel, '"2"')
        assert await waiting is True
        result = await backend.read(channel, first)
    assert [m.position for m in result.messages] == [second]
