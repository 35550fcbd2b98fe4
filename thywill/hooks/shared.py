"""Shared state for hook scripts: seen by every server process.

Module globals of a script are per process. State that every process must agree on
(scores, room sizes, counters) goes here instead. It is kept in one of Django's caches
(``THYWILL_HOOKS["CACHE"]``, default ``"default"``), not in the push backend: Django's cache
API already has atomic ``add`` and ``incr``, timeouts and async variants, works with the
Redis cache a multi-process site runs anyway, and needs nothing new from push backends.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache

from thywill import conf

KEY_PREFIX = "thywill:shared:"


class SharedState:
    """Key-value state shared by every process (a namespace in a Django cache).

    Values are anything the cache can pickle. ``timeout`` is in seconds; ``None`` (the
    default) keeps a value until it is deleted or the cache evicts it.
    """

    @property
    def cache(self) -> BaseCache:
        """The Django cache behind the store."""
        return caches[conf.get_hooks().cache]

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default``."""
        return self.cache.get(KEY_PREFIX + key, default)

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        """Set ``key`` to ``value``."""
        self.cache.set(KEY_PREFIX + key, value, timeout)

    def add(self, key: str, value: Any, timeout: float | None = None) -> bool:
        """Set ``key`` only if it has no value; True when it was set (atomic)."""
        return self.cache.add(KEY_PREFIX + key, value, timeout)

    def incr(self, key: str, delta: int = 1) -> int:
        """Add ``delta`` to an integer (a missing key counts from 0); the new value."""
        self.cache.add(KEY_PREFIX + key, 0, None)
        return self.cache.incr(KEY_PREFIX + key, delta)

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        self.cache.delete(KEY_PREFIX + key)

    async def aget(self, key: str, default: Any = None) -> Any:
        """``get()`` for async hook functions."""
        return await self.cache.aget(KEY_PREFIX + key, default)

    async def aset(self, key: str, value: Any, timeout: float | None = None) -> None:
        """``set()`` for async hook functions."""
        await self.cache.aset(KEY_PREFIX + key, value, timeout)

    async def aincr(self, key: str, delta: int = 1) -> int:
        """``incr()`` for async hook functions."""
        await self.cache.aadd(KEY_PREFIX + key, 0, None)
        return await self.cache.aincr(KEY_PREFIX + key, delta)

    async def adelete(self, key: str) -> None:
        """``delete()`` for async hook functions."""
        await self.cache.adelete(KEY_PREFIX + key)


shared = SharedState()
