"""How much one stream may carry before the server ends it: the bound on what a slow
reader can make a server process hold.

A WebSocket or SSE write completes once the ASGI server has taken the bytes, not once
the client has read them: Daphne buffers whatever it is given, so a client that stops
reading would make the process hold every message sent to it. Each stream therefore
carries at most THYWILL_LIMITS["MAX_STREAM_BYTES"]; then the server ends it and the client
reconnects from its cursor, which it can only do after reading what was written. A
reader that falls further behind than its channels keep gets a ``reset``.
"""

from __future__ import annotations


class StreamBudget:
    """The bytes a stream may still write.

    Args:
        limit: MAX_STREAM_BYTES.
    """

    __slots__ = ("left",)

    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self, text: str) -> bool:
        """Count ``text``, just written, as UTF-8; whether the stream is now spent.

        The batch that crosses the limit is still written whole, so every stream makes
        progress, whatever the size of one batch.
        """
        self.left -= len(text.encode())
        return self.left <= 0
