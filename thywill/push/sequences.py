"""Each client's highest send ``seq``, kept for a bounded time, in little memory.

The in-memory backend answers a send it has seen ``duplicate`` from this record, and
marks an ended client in it (``ENDED``), so it must outlive a client by ``max_age`` and
must not outlive it by much more: a busy server makes thousands of clients a minute.
Rather than a timestamp per client, the records live in three generations of
``max_age / 2`` each; when the newest is that old a new one starts and the oldest is
dropped whole. A record is kept at least ``max_age`` after it was last written and at
most 1.5 times ``max_age``, for the cost of its key and a dict slot.
"""

from __future__ import annotations

import collections
import itertools
import time
from collections.abc import Callable, Iterator

GENERATIONS = 3


class SendSequences:
    """The highest send ``seq`` of each client (0: none), for at least ``max_age``.

    Not thread-safe: its owner holds its own lock around every call.

    Args:
        max_age: the least number of seconds a record is kept after it was written.
        clock: monotonic seconds (handed in so that tests can move time).
    """

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._span = max_age / (GENERATIONS - 1)
        self._clock = clock
        self._generations: collections.deque[dict[str, int]] = collections.deque([{}])
        self._next_turn = clock() + self._span

    def __len__(self) -> int:
        return sum(len(generation) for generation in self._generations)

    def __iter__(self) -> Iterator[str]:
        """The clients that have a record (each once: a write moves it to the newest)."""
        return itertools.chain.from_iterable(self._generations)

    def get(self, client_id: str) -> int:
        """The client's highest ``seq``, 0 when it has none (or it was forgotten)."""
        for generation in self._generations:  # newest first
            seq = generation.get(client_id)
            if seq is not None:
                return seq
        return 0

    def set(self, client_id: str, seq: int) -> None:
        """Record ``seq`` as the client's highest, kept from now on."""
        self.expire()
        newest = self._generations[0]
        if client_id not in newest:
            for older in itertools.islice(self._generations, 1, None):
                older.pop(client_id, None)
        newest[client_id] = seq

    def expire(self) -> None:
        """Start the generations that are due and drop what fell out of the oldest."""
        now = self._clock()
        if now < self._next_turn:
            return
        turns = int((now - self._next_turn) // self._span) + 1
        for _ in range(min(turns, GENERATIONS)):
            self._generations.appendleft({})
            if len(self._generations) > GENERATIONS:
                self._generations.pop()
        self._next_turn += turns * self._span
