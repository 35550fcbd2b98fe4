"""Asyncio locks by key, created on first use and dropped when their last user leaves."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType


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

    def hold(self, key: str) -> HeldKey:
        """An async context manager that holds the lock of ``key`` in the running
        event loop."""
        return HeldKey(self, key)

    def _join(self, index: tuple[asyncio.AbstractEventLoop, str]) -> asyncio.Lock:
        """The lock of ``index``, counted as used until ``_leave``."""
        with self._guard:
            entry = self._locks.get(index)
            if entry is None:
                lock, users = asyncio.Lock(), 0
            else:
                lock, users = entry
            self._locks[index] = (lock, users + 1)
        return lock

    def _leave(self, index: tuple[asyncio.AbstractEventLoop, str]) -> None:
        with self._guard:
            lock, users = self._locks[index]
            if users == 1:
                del self._locks[index]
            else:
                self._locks[index] = (lock, users - 1)

    def __len__(self) -> int:
        """How many locks are in use (held or awaited)."""
        return len(self._locks)


class HeldKey:
    """``KeyedLocks.hold()``: a class rather than a generator-based context manager,
    as every send takes one."""

    __slots__ = ("_index", "_key", "_lock", "_locks")

    def __init__(self, locks: KeyedLocks, key: str) -> None:
        self._locks = locks
        self._key = key

    async def __aenter__(self) -> None:
        self._index = index = (asyncio.get_running_loop(), self._key)
        lock = self._locks._join(index)
        try:
            await lock.acquire()
        except BaseException:  # cancelled while waiting: no longer a user
            self._locks._leave(index)
            raise
        self._lock = lock

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._lock.release()
        self._locks._leave(self._index)
