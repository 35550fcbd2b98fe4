"""How many transport connections each client holds open in this process, capped.

A client (one tab) needs one connection at a time: a WebSocket, an SSE stream or one
long-poll request in flight, and briefly two while it reconnects. Without a cap, one
token could hold any number of them, each with its feed, its buffers and its task (2,000
WebSockets on one token took a process from 81 to 221 MB). Every transport opens a
``Connection`` here before it reads and closes it when it ends; one over
THYWILL_LIMITS["MAX_CONNECTIONS_PER_CLIENT"] is refused with ``too_many_connections``
(429, close 4429), which the browser client retries after a backoff. The count is per
process: behind a balancer, each process holds its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from thywill.exceptions import ErrorCode, RejectedError


class Connection:
    """One open connection of a client; ``close()`` gives its place back (once)."""

    __slots__ = ("_limiter", "client_id", "closed", "on_close")

    def __init__(self, limiter: ConnectionLimiter, client_id: str) -> None:
        self._limiter = limiter
        self.client_id = client_id
        self.closed = False
        self.on_close: Callable[[], None] | None = None
        """Called once when the connection closes (the metrics count it closed)."""

    def close(self) -> None:
        """Give the place back; closing again does nothing."""
        if not self.closed:
            self.closed = True
            self._limiter._release(self.client_id)
            if self.on_close is not None:
                self.on_close()


class ConnectionLimiter:
    """Counts the open connections of each client; ``open()`` refuses one over ``limit``.

    Safe to use from several threads and event loops of one process. A client with no
    open connection holds no entry.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}
        self._guard = threading.Lock()

    def open(self, client_id: str) -> Connection:
        """Count a new connection of ``client_id``.

        Raises:
            RejectedError: ``too_many_connections`` when the client already holds
                ``limit`` of them here.
        """
        with self._guard:
            count = self._open.get(client_id, 0)
            if count >= self.limit:
                raise RejectedError(
                    ErrorCode.TOO_MANY_CONNECTIONS,
                    f"This client already has {count} open connections (the most "
                    "allowed); close one first.",
                )
            self._open[client_id] = count + 1
        return Connection(self, client_id)

    def count(self, client_id: str) -> int:
        """How many connections ``client_id`` holds open here."""
        with self._guard:
            return self._open.get(client_id, 0)

    def __len__(self) -> int:
        """How many clients hold at least one open connection here."""
        with self._guard:
            return len(self._open)

    def _release(self, client_id: str) -> None:
        with self._guard:
            count = self._open.get(client_id, 0) - 1
            if count > 0:
                self._open[client_id] = count
            else:
                self._open.pop(client_id, None)
