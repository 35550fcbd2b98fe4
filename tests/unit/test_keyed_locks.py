"""KeyedLocks: one asyncio lock per key, gone once its last user leaves."""

from __future__ import annotations

import asyncio

import pytest

from thywill.push.locks import KeyedLocks


async def test_holders_of_one_key_take_turns_and_other_keys_do_not_wait():
    locks = KeyedLocks()
    order: list[str] = []
    first_in = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        async with locks.hold("a"):
            order.append("first in")
            first_in.set()
            await release_first.wait()
            order.append("first out")

    async def second() -> None:
        async with locks.hold("a"):
            order.append("second in")

    task = asyncio.create_task(first())
    await asyncio.wait_for(first_in.wait(), 2)
    waiting = asyncio.create_task(second())
    await asyncio.sleep(0.01)
    async with asyncio.timeout(2):
        async with locks.hold("b"):  # another key: not held up
            order.append("other key")
            assert len(locks) == 2
    assert len(locks) == 1
    release_first.set()
    await asyncio.wait_for(asyncio.gather(task, waiting), 2)

    assert order == ["first in", "other key", "first out", "second in"]
    assert len(locks) == 0


async def test_a_waiter_cancelled_or_a_body_that_fails_leaves_nothing_held():
    locks = KeyedLocks()
    holding = asyncio.Event()
    done = asyncio.Event()

    async def hold() -> None:
        async with locks.hold("a"):
            holding.set()
            await done.wait()

    holder = asyncio.create_task(hold())
    await asyncio.wait_for(holding.wait(), 2)
    waiter = asyncio.create_task(asyncio.wait_for(locks.hold("a").__aenter__(), 5))
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    done.set()
    await asyncio.wait_for(holder, 2)
    assert len(locks) == 0

    with pytest.raises(RuntimeError):
        async with locks.hold("a"):
            raise RuntimeError("the body failed")
    assert len(locks) == 0
    async with asyncio.timeout(2):
        async with locks.hold("a"):
            assert len(locks) == 1
