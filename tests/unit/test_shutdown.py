"""The drain (thywill/edge/shutdown.py): what streams wait on, and the signal handler in
front of the server's. The servers themselves are in tests/integration/test_shutdown.py."""

from __future__ import annotations

import asyncio
import signal

import pytest

from thywill.edge.shutdown import Drain


async def test_a_wait_returns_none_once_draining_starts():
    """What a stream waits for is cancelled when the drain starts."""
    drain = Drain()
    cancelled = asyncio.Event()

    async def forever():
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    waiting = asyncio.ensure_future(drain.unless_draining(forever()))
    await asyncio.sleep(0)
    drain.begin()
    async with asyncio.timeout(1):
        assert await waiting is None
    assert cancelled.is_set()


async def test_a_result_is_returned_and_a_late_wait_ends_at_once():
    """A result ready first is returned; once draining, a new wait ends at once."""
    drain = Drain()
    assert await drain.unless_draining(asyncio.sleep(0, "read")) == "read"
    drain.begin()
    async with asyncio.timeout(1):
        assert await drain.unless_draining(asyncio.sleep(60)) is None


async def test_wait_idle_ends_when_the_last_request_does():
    """The drain waits for requests under way, and no longer than its timeout."""
    drain = Drain()
    assert await drain.wait_idle(0.01)
    drain.enter("/a")
    assert not await drain.wait_idle(0.01)
    waiting = asyncio.ensure_future(drain.wait_idle(5))
    await asyncio.sleep(0)
    drain.leave("/a")
    async with asyncio.timeout(1):
        assert await waiting


async def test_the_signal_drains_then_reaches_the_servers_handler():
    """SIGTERM starts the drain; the server's handler runs once no request is under way,
    and a second signal goes straight to it."""
    received: list[int] = []
    reached = asyncio.Event()

    def server_handler(signum, frame):
        received.append(signum)
        reached.set()

    previous = signal.signal(signal.SIGTERM, server_handler)
    drain = Drain()
    try:
        drain.install()
        drain.enter("/thywill/sse/")
        signal.raise_signal(signal.SIGTERM)
        await asyncio.sleep(0.05)
        assert drain.draining
        assert received == []  # the stream is still ending
        drain.leave("/thywill/sse/")
        async with asyncio.timeout(1):
            await reached.wait()
        assert received == [signal.SIGTERM]
        signal.raise_signal(signal.SIGTERM)
        assert received == [signal.SIGTERM, signal.SIGTERM]
    finally:
        drain.reset()
        signal.signal(signal.SIGTERM, previous)


async def test_the_drain_cancels_only_its_own_wait():
    """The wait the drain cut short leaves its task uncancelled, so the stream goes on
    to close itself; a task cancelled by someone else as well stays cancelled."""
    drain = Drain()

    async def stream() -> tuple[object, int]:
        result = await drain.unless_draining(asyncio.sleep(60))
        current = asyncio.current_task()
        assert current is not None
        await asyncio.sleep(0)  # not cancelled any more: the stream can still write
        return result, current.cancelling()

    waiting = asyncio.ensure_future(stream())
    await asyncio.sleep(0)
    drain.begin()
    async with asyncio.timeout(1):
        assert await waiting == (None, 0)

    other = Drain()
    gone = asyncio.ensure_future(other.unless_draining(asyncio.sleep(60)))
    await asyncio.sleep(0)
    other.begin()
    gone.cancel()  # the client left too
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(1):
            await gone
