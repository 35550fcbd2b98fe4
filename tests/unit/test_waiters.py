"""The waiters push backends wait on: their deadlines and their channels."""

from __future__ import annotations

import asyncio

import pytest

from thywill.push import waiters
from thywill.push.waiters import TICK, ChannelWaiters, Waiter, resolve, wait_for_news

BOUND = 2.0


async def test_waits_that_end_in_one_tick_share_one_timer_and_end_with_false():
    """A hundred waits of one timeout end False, no sooner than asked and within a tick
    after, from the one or two ticks their deadlines fall in."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    futures: list[Waiter] = [loop.create_future() for _ in range(100)]
    waits = [asyncio.create_task(wait_for_news(f, 0.15)) for f in futures]
    await asyncio.sleep(0)
    assert 1 <= len(waiters._deadlines[loop]) <= 2
    async with asyncio.timeout(BOUND):
        results = await asyncio.gather(*waits)
    elapsed = loop.time() - started
    assert results == [False] * 100
    assert 0.15 <= elapsed < 0.15 + TICK + 0.5
    assert waiters._deadlines[loop] == {}


async def test_a_timeout_of_zero_ends_at_once():
    """No tick to wait for: the wait ends without ever suspending, False unless the
    waiter was already resolved, and registers nothing."""
    loop = asyncio.get_running_loop()
    for resolved, expected in ((None, False), (True, True)):
        waiter: Waiter = loop.create_future()
        if resolved is not None:
            resolve(waiter, resolved)
        waiting = wait_for_news(waiter, 0)
        with pytest.raises(StopIteration) as stopped:
            waiting.send(None)
        assert stopped.value.value is expected
    assert not waiters._deadlines.get(loop)


async def test_a_waiter_woken_first_returns_true_and_leaves_its_tick():
    """News before the deadline: True at once; the tick, which held no other waiter,
    is gone with its timer."""
    loop = asyncio.get_running_loop()
    woken: Waiter = loop.create_future()
    waiting = asyncio.create_task(wait_for_news(woken, 0.2))
    await asyncio.sleep(0)
    resolve(woken, True)
    async with asyncio.timeout(BOUND):
        assert await waiting is True
    assert waiters._deadlines[loop] == {}


async def test_channel_waiters_keep_an_entry_only_while_someone_waits():
    """``add`` and ``discard`` leave no empty entry; ``wake`` resolves only the
    channel's waiters; ``take`` hands them over and forgets them."""
    loop = asyncio.get_running_loop()
    by_channel = ChannelWaiters()
    first: Waiter = loop.create_future()
    second: Waiter = loop.create_future()
    by_channel.add(["a", "b"], first)
    by_channel.add(["b"], second)
    by_channel.wake("a")
    assert (first.done(), second.done()) == (True, False)
    by_channel.discard(["a", "b"], first)
    assert ("a" in by_channel, "b" in by_channel) == (False, True)
    assert by_channel.take("b") == {second}
    assert "b" not in by_channel
    by_channel.discard(["b"], second)  # gone already: nothing to do
    assert "b" not in by_channel
