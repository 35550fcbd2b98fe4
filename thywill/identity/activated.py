"""Which pending clients this process knows to be active.

A client issued pending (THYWILL_RESUME) is activated by its first request, which asks
the database whether it is recorded yet. Each process remembers the clients it found or
made active, so that their later requests ask nothing; it forgets one when it leaves
(``thywill.identity.tokens.forget_client``), and the least recently seen beyond
``ACTIVATED_CACHE_SIZE``. A client it forgot costs one database query on its next
request.
"""

from __future__ import annotations

import collections
import threading

ACTIVATED_CACHE_SIZE = 16384
"""How many activated pending clients each process remembers."""


class _Activated:
    """The ids of pending clients known to be active, least recently seen first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.ids: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.lock = threading.Lock()

    def __contains__(self, client_id: str) -> bool:
        with self.lock:
            if client_id not in self.ids:
                return False
            self.ids.move_to_end(client_id)
            return True

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, client_id: str) -> None:
        with self.lock:
            self.ids[client_id] = None
            while len(self.ids) > self.size:
                self.ids.popitem(last=False)

    def forget(self, client_id: str) -> None:
        with self.lock:
            self.ids.pop(client_id, None)


activated = _Activated(ACTIVATED_CACHE_SIZE)
