"""CommandBatch: the scripts and commands sent in one turn of the event loop share one
round trip, and each caller still gets its own reply or error, on a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from tests.contracts.push import LONG_WAIT
from tests.redis.conftest import new_prefix
from thywill.push.redis_batch import CommandBatch

ECHO = "return {KEYS[1], ARGV[1]}"
FAIL = "return redis.error_reply('refused ' .. ARGV[1])"
INCR = "return redis.call('INCR', KEYS[1])"


class CountedBatch:
    """A CommandBatch whose round trips are counted."""

    def __init__(self, client: aioredis.Redis, timeout: float = LONG_WAIT) -> None:
        self.round_trips = 0
        scripts = {
            name: client.register_script(text)
            for name, text in (("ECHO", ECHO), ("FAIL", FAIL), ("INCR", INCR))
        }
        self.batch = CommandBatch(client, scripts, self.send, timeout)

    async def send(self, operation: Callable[[], Awaitable[Any]]) -> Any:
        self.round_trips += 1
        return await operation()


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_calls_of_one_turn_share_one_round_trip(client):
    """Fifty scripts called in one turn are one round trip; each caller gets its own
    reply, in the order the calls were made."""
    counted = CountedBatch(client)
    key = f"{{{new_prefix()}}}:n"
    await client.script_load(ECHO)
    await client.script_load(INCR)
    try:
        echoes = [counted.batch.call("ECHO", [f"k{i}"], [f"v{i}"]) for i in range(25)]
        counts = [counted.batch.call("INCR", [key], []) for _ in range(25)]
        async with asyncio.timeout(LONG_WAIT):
            replies = await asyncio.gather(*echoes)
            numbers = await asyncio.gather(*counts)
    finally:
        await client.delete(key)
    assert replies == [[f"k{i}".encode(), f"v{i}".encode()] for i in range(25)]
    assert numbers == list(range(1, 26))
    assert counted.round_trips == 1


async def test_a_call_alone_goes_alone(client):
    counted = CountedBatch(client)
    await client.script_load(ECHO)
    async with asyncio.timeout(LONG_WAIT):
        assert await counted.batch.call("ECHO", ["k"], ["v"]) == [b"k", b"v"]
        assert await counted.batch.call("ECHO", ["k"], ["w"]) == [b"k", b"w"]
    assert counted.round_trips == 2


async def test_a_failing_script_fails_only_its_caller(client):
    counted = CountedBatch(client)
    before = counted.batch.call("ECHO", ["a"], ["1"])
    failing = counted.batch.call("FAIL", [], ["x"])
    after = counted.batch.call("ECHO", ["b"], ["2"])
    async with asyncio.timeout(LONG_WAIT):
        assert await before == [b"a", b"1"]
        with pytest.raises(ResponseError, match="refused x"):
            await failing
        assert await after == [b"b", b"2"]


async def test_commands_share_the_round_trip_of_the_scripts(client):
    """Plain commands go in the same pipeline as the scripts of their turn, after Redis
    lost its scripts too; a command Redis refuses fails only its caller."""
    counted = CountedBatch(client)
    key, members = f"{{{new_prefix()}}}:s", f"{{{new_prefix()}}}:m"
    await client.sadd(members, "a", "b")
    await client.script_flush()
    try:
        echo = counted.batch.call("ECHO", ["k"], ["v"])
        written = counted.batch.command("SET", key, "1", "PX", 60_000)
        exists = counted.batch.command("EXISTS", key)
        listed = counted.batch.command("SMEMBERS", members)
        refused = counted.batch.command("SMEMBERS", key)  # a string, not a set
        async with asyncio.timeout(LONG_WAIT):
            assert await echo == [b"k", b"v"]
            assert await written == b"OK"
            assert await exists == 1
            assert sorted(await listed) == [b"a", b"b"]
            with pytest.raises(ResponseError, match="WRONGTYPE"):
                await refused
    finally:
        await client.delete(key, members)
    # One round trip, then the script loaded and its call sent again: two more.
    assert counted.round_trips == 3


async def test_scripts_redis_lost_are_loaded_again(client):
    """After SCRIPT FLUSH (as after a Redis restart), a batch still gets every reply."""
    counted = CountedBatch(client)
    async with asyncio.timeout(LONG_WAIT):
        await counted.batch.call("ECHO", ["warm"], ["up"])
        await client.script_flush()
        counted.round_trips = 0
        calls = [counted.batch.call("ECHO", [f"k{i}"], ["v"]) for i in range(3)]
        failing = counted.batch.call("FAIL", [], ["y"])
        replies = await asyncio.gather(*calls)
        with pytest.raises(ResponseError, match="refused y"):
            await failing
    assert replies == [[f"k{i}".encode(), b"v"] for i in range(3)]
    assert counted.round_trips == 3  # the batch, loading the scripts, the batch again


async def test_a_cancelled_caller_leaves_the_others_their_replies(client):
    counted = CountedBatch(client)

    async def call(value: str) -> Any:
        return await counted.batch.call("ECHO", ["k"], [value])

    first = asyncio.create_task(call("1"))
    cancelled = asyncio.create_task(call("2"))
    third = asyncio.create_task(call("3"))
    await asyncio.sleep(0)  # all three called in this turn
    cancelled.cancel()
    async with asyncio.timeout(LONG_WAIT):
        assert await first == [b"k", b"1"]
        assert await third == [b"k", b"3"]
    assert cancelled.cancelled()


async def test_a_lost_connection_fails_every_call_of_the_batch(redis_url):
    """When Redis cannot be reached, every caller of the batch gets the error."""
    dead = aioredis.Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=1)
    try:
        counted = CountedBatch(dead)
        calls = [counted.batch.call("ECHO", ["k"], [str(i)]) for i in range(3)]
        async with asyncio.timeout(LONG_WAIT):
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
    finally:
        await dead.aclose()
    assert all(isinstance(o, RedisConnectionError) for o in outcomes), outcomes
    assert counted.round_trips == 1


async def test_a_batch_redis_does_not_answer_in_time_fails_and_the_next_goes_through(
    client, redis_url
):
    """Redis pauses its clients (CLIENT PAUSE, as a stalled server would): the batch
    fails with TimeoutError after the batch's timeout, every caller with it, and its
    half-read connection is dropped, so the next batch reads its own replies."""
    await client.script_load(ECHO)
    waiting = aioredis.Redis.from_url(redis_url)
    counted = CountedBatch(waiting, timeout=0.3)
    try:
        async with asyncio.timeout(LONG_WAIT):
            await counted.batch.call("ECHO", ["warm"], ["up"])  # a connection in the pool
            await client.execute_command("CLIENT", "PAUSE", 1000, "ALL")
            calls = [counted.batch.call("ECHO", ["k"], [str(i)]) for i in range(2)]
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
            assert all(isinstance(o, TimeoutError) for o in outcomes), outcomes
            await client.execute_command("CLIENT", "UNPAUSE")
            assert await counted.batch.call("ECHO", ["k"], ["after"]) == [b"k", b"after"]
    finally:
        await client.execute_command("CLIENT", "UNPAUSE")
        await waiting.aclose()
