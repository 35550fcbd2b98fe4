"""Asyncio locks by key, created on first use and dropped when their last user leaves."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator


class KeyedLocks:
    """One ``asyncio.Lock`` per key and event loop.

    asyncio locks belong to one event loop, and a process may drive one backend from
    several (Django's test client and ``async_to_sync`` create their own), so the loop
    is part of the key. Safe to use from several threads.
    """

    def __init__(self) -> None:
        self._locks: dict[tuple[asyncio.AbstractEventLoop, str], tuple[asyncio.Lock, int]]
        self._locks = {}
        self._guard = threading.Lock()

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the lock of ``key`` in the running event loop."""
        index = (asyncio.get_running_loop(), key)
        with self._guard:
            lock, users = self._locks.get(index, (asyncio.Lock(), 0))
            self._locks[index] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[index]
                if users == 1:
                    del self._locks[index]
                else:
                    self._locks[index] = (lock, users - 1)

    def __len__(self) -> int:
        """How many locks are in use (held or awaited)."""
        return len(self._locks)
