"""Shared state for hook scripts: seen by every server process.

Module globals of a script are per process. State that every process must agree on
(scores, room sizes, counters) goes here instead. It is kept in a Django cache, which
already has atomic ``add`` and ``incr``, timeouts and async variants:
``THYWILL_HOOKS["CACHE"]`` when it names one; otherwise the push backend's own store when
every process shares it (the Redis backend's Redis, ``shared_cache()``), so a site on
Redis shares the state with nothing more configured; otherwise Django's ``"default"``.
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

    def __init__(self) -> None:
        self._push_cache: BaseCache | None = None

    def use_push_cache(self, cache: BaseCache | None) -> None:
        """Keep the state in ``cache`` unless THYWILL_HOOKS names a cache (called by
        thywill when it builds the push backend, with its ``shared_cache()``)."""
        self._push_cache = cache

    @property
    def cache(self) -> BaseCache:
        """The Django cache behind the store."""
        name = conf.get_hooks().cache
        if name is not None:
            return caches[name]
        return self._push_cache if self._push_cache is not None else caches["default"]

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

    async def aadd(self, key: str, value: Any, timeout: float | None = None) -> bool:
        """``add()`` for async hook functions (atomic)."""
        return await self.cache.aadd(KEY_PREFIX + key, value, timeout)

    async def aincr(self, key: str, delta: int = 1) -> int:
        """``incr()`` for async hook functions."""
        await self.cache.aadd(KEY_PREFIX + key, 0, None)
        return await self.cache.aincr(KEY_PREFIX + key, delta)

    async def adelete(self, key: str) -> None:
        """``delete()`` for async hook functions."""
        await self.cache.adelete(KEY_PREFIX + key)


shared = SharedState()
