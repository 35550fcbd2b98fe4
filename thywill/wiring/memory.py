"""Handing back to the system the memory that clients who left have freed.

CPython frees a departed client's objects into its own allocator and into glibc's
``malloc``, which keeps free chunks for reuse rather than returning them: after many
clients have come and gone, a process's RSS stays near its peak although little of it is
in use (documentation/performance.md, "Memory and soak", measured it: the heap in use fell
back while its free part grew). ``malloc_trim(0)`` returns glibc's free pages to the
system. thywill calls it after a presence sweep that released clients, at most once every
``min_interval`` seconds, in a worker thread (ctypes lets go of the GIL while it runs).
Where the C library is not glibc there is no such call, and nothing is done.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

MIN_INTERVAL = 10.0
"""Seconds, at least, between two trims: each walks the whole heap."""


def glibc_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


class MemoryTrimmer:
    """Trims the C heap after clients were released, at most every ``min_interval`` s.

    Args:
        trim: the trimming call (``glibc_malloc_trim()``); None does nothing.
        min_interval: seconds, at least, between two trims.
        clock: monotonic seconds.
    """

    def __init__(
        self,
        trim: Callable[[int], int] | None,
        *,
        min_interval: float = MIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.trim = trim
        self.min_interval = min_interval
        self.clock = clock
        self.trims = 0
        """How many trims ran (for tests and the curious)."""
        self._last: float | None = None

    async def released(self) -> None:
        """Clients were released: trim now unless the last trim was too recent."""
        if self.trim is None:
            return
        now = self.clock()
        if self._last is not None and now - self._last < self.min_interval:
            return
        self._last = now
        await asyncio.to_thread(self.trim, 0)
        self.trims += 1
