"""The future a reader waits on for news of its channels (done with True when a message
comes, with False at the reader's timeout), and the waiters of each channel."""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Iterable

Waiter = asyncio.Future[bool]


TICK = 0.1
"""Seconds: a wait's deadline is rounded up to a multiple of it, and the waits that end
in one tick share one timer."""

# Per event loop: by tick number, the waiters whose deadline falls in that tick and the
# timer that times them out.
_Ticks = dict[int, tuple[set[Waiter], asyncio.TimerHandle]]
_deadlines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Ticks]
_deadlines = weakref.WeakKeyDictionary()


async def wait_for_news(waiter: Waiter, timeout: float) -> bool:
    """``waiter``'s result, or False once ``timeout`` seconds have passed (up to ``TICK``
    more; at once for a ``timeout`` of 0).

    Not ``asyncio.wait_for`` (a Task, a timeout context and a second future per wait),
    nor a timer per wait: the waits whose deadlines fall in the same tick share one
    timer, cancelled when the last of them ends early. A process of idle clients, each
    waiting out its keepalive, then holds a timer per tick of the keepalive interval,
    not one per client.
    """
    if timeout <= 0:  # at once: no tick to wait for
        return waiter.result() if waiter.done() else False
    loop = waiter.get_loop()
    tick = math.ceil((loop.time() + timeout) / TICK)
    ticks = _deadlines.get(loop)
    if ticks is None:
        ticks = _deadlines.setdefault(loop, {})
    entry = ticks.get(tick)
    if entry is None:
        entry = ticks[tick] = (set(), loop.call_at(tick * TICK, _time_out, ticks, tick))
    due, timer = entry
    due.add(waiter)
    try:
        return await waiter
    finally:
        due.discard(waiter)
        if not due and ticks.get(tick) is entry:
            del ticks[tick]
            timer.cancel()


def _time_out(ticks: _Ticks, tick: int) -> None:
    due, _ = ticks.pop(tick)  # still there: whoever removes it cancels this timer
    for waiter in due:
        resolve(waiter, False)


def resolve(waiter: Waiter, news: bool) -> None:
    """Set ``waiter``'s result unless it is done (woken, timed out, or cancelled)."""
    if not waiter.done():
        waiter.set_result(news)


class ChannelWaiters:
    """The waiters of each channel a reader waits on; a channel nobody waits on has no
    entry, so an idle channel costs nothing here."""

    __slots__ = ("_by_channel",)

    def __init__(self) -> None:
        self._by_channel: dict[str, set[Waiter]] = {}

    def add(self, channels: Iterable[str], waiter: Waiter) -> None:
        """Wake ``waiter`` on news of any of ``channels``."""
        for channel in channels:
            self._by_channel.setdefault(channel, set()).add(waiter)

    def discard(self, channels: Iterable[str], waiter: Waiter) -> None:
        """Stop waking ``waiter`` for ``channels`` (it may be there no longer)."""
        for channel in channels:
            waiters = self._by_channel.get(channel)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._by_channel[channel]

    def take(self, channel: str) -> set[Waiter]:
        """The waiters of ``channel``, forgotten here: to wake them."""
        return self._by_channel.pop(channel, set())

    def wake(self, channel: str) -> None:
        """Resolve the waiters of ``channel`` with news (from the loop they belong to)."""
        for waiter in self._by_channel.get(channel, ()):
            resolve(waiter, True)

    def wake_every(self) -> None:
        """Resolve every waiter of every channel with news (from their loop)."""
        for waiters in self._by_channel.values():
            for waiter in waiters:
                resolve(waiter, True)

    def __contains__(self, channel: object) -> bool:
        """Whether anyone waits on ``channel``."""
        return channel in self._by_channel
