"""The watch on the Redis wake-up subscription: pinged when quiet, ended when silent.

The subscription's reader waits for the next announcement without a timeout of its own
(one per announcement cost as much as handling it). Instead one timer per ping interval
looks at when the reader last heard anything: after an interval of quiet it sends a PING
(Redis answers a subscribed connection with a ``pong`` message), and after three
intervals of silence it cancels the reader, which then fails as a broken connection does
(``SubscriptionWatchdog.check_cancelled``), so that the process subscribes again rather
than trust a connection that may be dead.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

import redis.exceptions

SILENT_INTERVALS = 3
"""Intervals without a word from Redis after which the subscription counts as dead."""


class Pingable(Protocol):
    """What the watchdog needs of the connection: a way to send a command."""

    async def send_command(self, *args: Any, **kwargs: Any) -> None: ...


class SubscriptionWatchdog:
    """Watches the reading task that runs ``__init__``, until ``stop()``.

    Args:
        connection: the subscribed connection, which the pings go out on.
        every: seconds between looks (the ping interval).
    """

    def __init__(self, connection: Pingable, every: float) -> None:
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None, "a watchdog watches the task that makes it"
        self._reader = task
        self._connection = connection
        self._every = every
        self._heard = self._loop.time()
        self._ping: asyncio.Task[None] | None = None
        self.silent = False
        self._timer = self._loop.call_later(every, self._look)

    def heard(self) -> None:
        """The reader got a reply (an announcement, a confirmation, a pong)."""
        self._heard = self._loop.time()

    def _look(self) -> None:
        quiet = self._loop.time() - self._heard
        if quiet > SILENT_INTERVALS * self._every:
            self.silent = True
            self._reader.cancel()
            return
        if quiet >= self._every and (self._ping is None or self._ping.done()):
            self._ping = self._loop.create_task(self._send_ping())
        self._timer = self._loop.call_later(self._every, self._look)

    async def _send_ping(self) -> None:
        # A ping that cannot be sent shows as silence, which the next looks act on.
        with contextlib.suppress(redis.exceptions.RedisError, OSError):
            await self._connection.send_command("PING", check_health=False)

    def check_cancelled(self) -> None:
        """Called by the reader when it is cancelled: if the watchdog did it, take the
        cancellation back and fail as a lost connection.

        Raises:
            redis.exceptions.ConnectionError: the subscription went silent.
        """
        if self.silent and self._reader.uncancel() == 0:
            raise redis.exceptions.ConnectionError("the wake-up subscription went silent")

    def stop(self) -> None:
        """Stop watching (the reader is done with this connection)."""
        self._timer.cancel()
        if self._ping is not None:
            self._ping.cancel()
