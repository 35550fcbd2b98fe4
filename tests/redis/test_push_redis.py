"""The Redis push backend: the contract, and what only a shared backend must do."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time

import pytest
import redis.asyncio as aioredis
from django.core.cache import caches
from redis.crc import key_slot

from tests.contracts.push import (
    LONG_WAIT,
    PROMPTLY,
    PushBackendContract,
    new_channel,
    new_client,
    new_session,
)
from thywill.exceptions import PushUnavailableError
from thywill.hooks.shared import shared
from thywill.push.redis import RedisPushBackend


class TestRedisPush(PushBackendContract):
    """RedisPushBackend passes the push backend contract on a real Redis."""


# Two backend instances with one key prefix stand for two server processes: each has its
# own connections and its own wake-up subscription, exactly as separate processes do.


async def test_a_publish_wakes_a_waiter_of_another_process(make_push_backend):
    """A waiter is woken by a publish made through another instance."""
    first = make_push_backend()
    second = make_push_backend(key_prefix=first.key_prefix)
    channel = new_channel()
    waiting = asyncio.create_task(second.wait({channel: None}, LONG_WAIT))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    started = time.monotonic()
    position = await first.publish(channel, '"across"')
    async with asyncio.timeout(PROMPTLY):
        assert await waiting is True
    assert time.monotonic() - started < PROMPTLY
    result = await second.read(channel, None)
    assert [m.position for m in result.messages] == [position]


async def test_publish_sequenced_is_atomic_across_processes(make_push_backend):
    """Of concurrent calls with one seq through several instances, exactly one lands."""
    first = make_push_backend()
    others = [make_push_backend(key_prefix=first.key_prefix) for _ in range(3)]
    client, channel = new_client(), new_channel()
    results = await asyncio.gather(
        *(
            backend.publish_sequenced(client, 1, [(channel, f'"{n}"')])
            for n, backend in enumerate([first, *others] * 5)
        )
    )
    assert sum(r is not None for r in results) == 1
    assert len((await first.read(channel, None)).messages) == 1


async def test_a_revocation_is_seen_by_another_process_at_once(make_push_backend):
    """A session revoked through one instance is revoked through another, at once."""
    first = make_push_backend()
    second = make_push_backend(key_prefix=first.key_prefix)
    session = new_session()
    assert await second.session_revoked(session) is False
    await first.revoke_session(session, 30)
    assert await second.session_revoked(session) is True


async def test_client_lock_excludes_across_processes(make_push_backend):
    """Two instances never hold one client's lock at the same time."""
    first = make_push_backend()
    second = make_push_backend(key_prefix=first.key_prefix)
    client = new_client()
    trace: list[str] = []

    async def hold(backend: RedisPushBackend, name: str) -> None:
        async with backend.client_lock(client):
            trace.append(f"{name}.in")
            await asyncio.sleep(0.1)
            trace.append(f"{name}.out")

    async with asyncio.timeout(LONG_WAIT):
        await asyncio.gather(hold(first, "a"), hold(second, "b"))
    assert trace in (["a.in", "a.out", "b.in", "b.out"], ["b.in", "b.out", "a.in", "a.out"])


async def test_a_held_lock_is_renewed_past_its_lease(make_push_backend):
    """A holder that outlives the lease keeps the lock: the lease is renewed."""
    first = make_push_backend(lock_lease=0.3)
    second = make_push_backend(key_prefix=first.key_prefix, lock_lease=0.3)
    client = new_client()
    async with first.client_lock(client):
        entered = asyncio.create_task(second.client_lock(client).__aenter__())
        await asyncio.sleep(0.8)  # well past the lease
        assert not entered.done()
    async with asyncio.timeout(LONG_WAIT):
        await entered


HOLD_AND_HANG = """
import asyncio, sys
from thywill.push.redis import RedisPushBackend

async def main():
    backend = RedisPushBackend(url=sys.argv[1], key_prefix=sys.argv[2], lock_lease=1.0)
    async with backend.client_lock(sys.argv[3]):
        print("held", flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_the_lock_of_a_killed_process_lapses(make_push_backend):
    """A lock whose holder was killed (SIGKILL) is free again after its lease."""
    backend = make_push_backend(lock_lease=1.0)
    client = new_client()
    holder = subprocess.Popen(  # noqa: ASYNC220  (a start, not a wait)
        [sys.executable, "-c", HOLD_AND_HANG, backend.url, backend.key_prefix, client],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(holder.stdout.readline), 20)
        assert line.strip() == b"held"
        holder.kill()
        holder.wait(timeout=10)
        started = time.monotonic()
        async with asyncio.timeout(LONG_WAIT), backend.client_lock(client):
            waited = time.monotonic() - started
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)
    assert 0.3 < waited < 5.0


async def test_a_waiter_costs_no_connection(make_push_backend):
    """Thousands of waiters share one subscription and the pool's connections."""
    backend = make_push_backend(max_connections=10)
    channels = [new_channel() for _ in range(500)]
    waits = [asyncio.create_task(backend.wait({c: None}, LONG_WAIT)) for c in channels]
    await asyncio.sleep(0.5)
    assert not any(w.done() for w in waits)
    await backend.publish(channels[7], '"only this one"')
    async with asyncio.timeout(PROMPTLY):
        assert await waits[7] is True
    await asyncio.sleep(0.1)
    assert sum(w.done() for w in waits) == 1
    for w in waits:
        w.cancel()
    await asyncio.gather(*waits, return_exceptions=True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "http://localhost"}, "redis://"),
        ({"key_prefix": "has space"}, "key_prefix"),
        ({"key_prefix": "{tag}"}, "key_prefix"),
        ({"lock_lease": 0}, "lock_lease"),
        ({"sequence_ttl": "long"}, "sequence_ttl"),
    ],
)
def test_bad_options_are_refused(options, message):
    """Options that cannot work are refused when the backend is built."""
    with pytest.raises(ValueError, match=message):
        RedisPushBackend(**options)


def test_a_very_short_lock_lease_is_warned_about():
    """lock_lease under a second gets warning thywill.W004."""
    [warning] = RedisPushBackend(lock_lease=0.5).check()
    assert warning.id == "thywill.W004"
    assert RedisPushBackend().check() == []


async def test_every_key_of_a_site_shares_one_cluster_slot(push_backend, redis_url):
    """Channels, sequences, locks and leases all hash to one slot (Redis Cluster rules)."""
    client = new_client()
    await push_backend.publish_many([(f"client:{client}", "1"), ("group.room", "2")])
    await push_backend.publish_sequenced(client, 1, [(f"client:{client}", "3")])
    await push_backend.renew_presence(client, "", 30)
    await push_backend.revoke_session(new_session(), 30)
    async with push_backend.client_lock(client):
        redis = aioredis.Redis.from_url(redis_url)
        try:
            pattern = f"{{{push_backend.key_prefix}}}:*"
            keys = [key async for key in redis.scan_iter(match=pattern)]
        finally:
            await redis.aclose()
    kinds = {key.split(b":")[1] for key in keys}
    assert {b"m", b"s", b"q", b"k", b"presence", b"r"} <= kinds
    assert len({key_slot(key) for key in keys}) == 1


async def test_an_outage_is_one_episode_from_first_failure_to_recovery(
    private_redis, caplog
):
    """The first failure starts an episode, the rest continue it, a success ends it."""
    backend = RedisPushBackend(url=private_redis.url, socket_connect_timeout=0.5)
    try:
        await backend.publish(new_channel(), '"up"')
        private_redis.kill()
        failures = []
        for _ in range(3):
            with pytest.raises(PushUnavailableError) as error:
                await backend.publish(new_channel(), '"down"')
            failures.append(error.value.first_in_episode)
        with pytest.raises(PushUnavailableError):
            await backend.wait({new_channel(): None}, 1.0)
        assert failures == [True, False, False]
        private_redis.start()
        with caplog.at_level(logging.WARNING, logger="thywill"):
            async with asyncio.timeout(LONG_WAIT):
                while True:
                    try:
                        await backend.ping()
                        break
                    except PushUnavailableError:
                        await asyncio.sleep(0.1)
        assert caplog.text.count("Redis is available again after") == 1
        async with asyncio.timeout(LONG_WAIT):
            channel = new_channel()
            waiting = asyncio.create_task(backend.wait({channel: None}, LONG_WAIT))
            await asyncio.sleep(0.2)
            await backend.publish(channel, '"back"')
            assert await waiting is True
    finally:
        await backend.aclose()


async def test_the_shared_cache_is_on_the_backends_redis(make_push_backend, settings):
    """``shared_cache()`` is a cache on the backend's Redis under its key prefix: what one
    process's cache sets, another's reads. Hook scripts' ``shared`` uses it unless
    THYWILL_HOOKS names a CACHE."""
    first = make_push_backend()
    second = make_push_backend(key_prefix=first.key_prefix)
    one, other = first.shared_cache(), second.shared_cache()
    try:
        assert await one.aadd("claim", "one") is True
        assert await other.aadd("claim", "other") is False
        assert await other.aget("claim") == "one"
        client = aioredis.Redis.from_url(first.url)
        try:
            assert await client.exists(f"{first.key_prefix}:shared:1:claim") == 1
        finally:
            await client.aclose()
        shared.use_push_cache(one)
        assert shared.cache is one
        settings.THYWILL_HOOKS = {"CACHE": "default"}  # resets the runtime: use it again
        shared.use_push_cache(one)
        assert shared.cache is caches["default"]
    finally:
        shared.use_push_cache(None)
        await one.adelete("claim")
