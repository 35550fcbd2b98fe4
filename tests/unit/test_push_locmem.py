"""The in-memory push backend: the shared contract plus what only it promises."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.contracts.push import PROMPTLY, PushBackendContract, new_channel
from tests.unit.expected import W001
from thywill.push.locmem import LocMemPushBackend


@pytest.fixture
def push_backend():
    """A fresh in-memory backend with default options."""
    return LocMemPushBackend()


@pytest.fixture
def make_push_backend():
    """Build further independent in-memory backends with the given OPTIONS."""
    return LocMemPushBackend


class TestLocMemPush(PushBackendContract):
    """LocMemPushBackend passes the push backend contract."""


def run_in_thread(coroutine_function, *args):
    """Run a coroutine function in a new event loop on another thread; return a future."""
    loop = asyncio.get_running_loop()
    result: asyncio.Future = loop.create_future()

    def target():
        try:
            value = asyncio.run(coroutine_function(*args))
        except BaseException as exc:  # noqa: BLE001  (handed over to the test's loop)
            loop.call_soon_threadsafe(result.set_exception, exc)
        else:
            loop.call_soon_threadsafe(result.set_result, value)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return result, thread


async def test_publish_from_another_thread_wakes_a_waiter():
    """A publish from another thread's event loop wakes a waiter on this loop."""
    push = LocMemPushBackend()
    channel = new_channel()
    waiter = asyncio.create_task(push.wait({channel: None}, 10))
    try:
        await asyncio.sleep(0.05)
        assert not waiter.done()
        published, thread = run_in_thread(push.publish, channel, '"from a thread"')
        async with asyncio.timeout(PROMPTLY):
            position = await published
            assert await waiter is True
        thread.join(PROMPTLY)
        result = await push.read(channel, None)
        assert [m.payload for m in result.messages] == ['"from a thread"']
        assert result.position == position
    finally:
        waiter.cancel()


async def test_waiter_on_another_thread_is_woken_by_this_loop():
    """A waiter running in another thread's event loop is woken by a publish here."""
    push = LocMemPushBackend()
    channel = new_channel()
    woken, thread = run_in_thread(push.wait, {channel: None}, 10)
    await asyncio.sleep(0.1)  # let the other loop start waiting
    assert not woken.done()
    await push.publish(channel, '"news"')
    async with asyncio.timeout(PROMPTLY):
        assert await woken is True
    thread.join(PROMPTLY)


async def test_waiter_from_a_finished_loop_does_not_break_publish():
    """A wait that timed out on a loop that has since closed does not disturb a publish."""
    push = LocMemPushBackend()
    channel = new_channel()
    timed_out, thread = run_in_thread(push.wait, {channel: None}, 0.01)
    async with asyncio.timeout(PROMPTLY):
        assert await timed_out is False
    thread.join(PROMPTLY)
    position = await push.publish(channel, '"after"')
    assert (await push.read(channel, None)).position == position


async def test_idle_channel_is_forgotten_after_max_age():
    """A channel untouched for longer than max_age is dropped; an old position is reset."""
    push = LocMemPushBackend(max_age=0.1)
    idle, busy = new_channel("idle"), new_channel("busy")
    position = await push.publish(idle, '"old"')
    await asyncio.sleep(0.2)
    await push.publish(busy, '"sweeps"')  # publishing sweeps idle channels
    result = await push.read(idle, position)
    assert (list(result.messages), result.position, result.reset) == ([], None, True)


async def test_a_channel_without_messages_keeps_nothing_while_read_and_waited_on():
    """Reading and waiting on a channel that never had a message (as every idle client's
    private channel) makes no log; the wait's registration goes with the wait; the
    first message still wakes a waiter and starts the channel's history."""
    push = LocMemPushBackend()
    channel = new_channel("quiet")
    empty = await push.read(channel, None)
    assert (list(empty.messages), empty.position, empty.reset) == ([], None, False)
    assert await push.wait({channel: None}, 0.01) is False
    assert (push._logs, channel in push._waiters) == ({}, False)

    waiting = asyncio.create_task(push.wait({channel: None}, PROMPTLY))
    await asyncio.sleep(0)
    assert (push._logs, channel in push._waiters) == ({}, True)
    position = await push.publish(channel, '"first"')
    async with asyncio.timeout(PROMPTLY):
        assert await waiting is True
    assert channel not in push._waiters
    result = await push.read(channel, None)
    payloads = [m.payload for m in result.messages]
    assert (payloads, result.position) == (['"first"'], position)


async def test_idle_client_sequence_is_forgotten_after_max_age():
    """A client's highest seq is kept for max_age after it last advanced, then dropped."""
    push = LocMemPushBackend(max_age=0.1)
    assert await push.publish_sequenced("client-a", 3, []) == []
    assert await push.last_sequence("client-a") == 3
    await asyncio.sleep(0.2)
    await push.publish(new_channel(), '"sweeps"')
    assert await push.last_sequence("client-a") == 0


def test_deploy_warning_when_debug_is_off():
    """check() warns (thywill.W001) that the in-memory backend is not for production."""
    with override_settings(DEBUG=False):
        assert LocMemPushBackend().check() == [W001]


def test_no_warning_when_debug_is_on():
    """check() says nothing in development (DEBUG on)."""
    with override_settings(DEBUG=True):
        assert LocMemPushBackend().check() == []


def test_options_are_keyword_only():
    """capacity and max_age are keyword-only, so a typo cannot slip in by position."""
    with pytest.raises(TypeError):
        LocMemPushBackend(10)  # type: ignore[misc]
    push = LocMemPushBackend(capacity=10, max_age=5)
    assert (push.capacity, push.max_age) == (10, 5.0)


@settings(max_examples=200, deadline=None)
@given(
    kept=st.integers(min_value=1, max_value=40),
    trimmed=st.integers(min_value=0, max_value=30),
    after=st.integers(min_value=0, max_value=75),
    limit=st.integers(min_value=1, max_value=50),
)
def test_a_read_from_any_position_returns_what_follows_it_in_order(
    kept, trimmed, after, limit
):
    """Whether the wanted entries are nearer the oldest or the newest end of the log
    (the read walks from the nearer one), a read returns the ``limit`` messages that
    follow ``after``, in order, or a reset from the oldest kept when ``after`` was
    trimmed away."""
    push = LocMemPushBackend(capacity=kept)
    channel = new_channel()
    total = kept + trimmed
    positions = asyncio.run(push.publish_many([(channel, str(n)) for n in range(total)]))
    epoch = positions[0].split("-")[0]
    after = min(after, total)
    position = f"{epoch}-{after}" if after else None
    result = asyncio.run(push.read(channel, position, limit))
    first = trimmed if after and after < trimmed else max(after, trimmed)
    assert [m.payload for m in result.messages] == [
        str(n) for n in range(first, min(total, first + limit))
    ]
    assert result.reset == bool(after and after < trimmed)
