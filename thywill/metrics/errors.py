"""The latest errors of this process, for the inspector (thywill.inspector).

A ``logging.Handler`` on the ``thywill`` logger keeps, in a ring of bounded size, the
records that carry a code (``thywill_code``: a refused request, a failed flow) and those
at ERROR or above (a handler's exception: code ``error``). Each entry keeps the code, the
client id and the trace id when the record has them, the level and the time: never the
message, which may quote what a client sent, and never a token.
"""

from __future__ import annotations

import collections
import itertools
import logging
from typing import Any

LOGGER = "thywill"
SIZE = 50
"""How many errors the ring keeps: the latest."""


class ErrorRing(logging.Handler):
    """Keeps the latest ``size`` coded or error records, as small dicts.

    Args:
        size: how many entries to keep.
    """

    def __init__(self, size: int = SIZE) -> None:
        super().__init__()
        self.entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=size)
        self._numbers = itertools.count(1)

    def emit(self, record: logging.LogRecord) -> None:
        code = getattr(record, "thywill_code", None)
        if code is None:
            if record.levelno < logging.ERROR:
                return
            code = "error"
        trace = getattr(record, "thywill_trace_id", None)
        # deque.append is atomic: records may come from any thread.
        self.entries.append(
            {
                "n": next(self._numbers),
                "code": str(code),
                "client": getattr(record, "thywill_client_id", None),
                "trace": None if trace in (None, "-") else str(trace),
                "level": record.levelname,
                "at": record.created,
            }
        )

    def latest(self) -> list[dict[str, Any]]:
        """The entries kept, oldest first."""
        return list(self.entries)

    def attach(self) -> None:
        """Start collecting the ``thywill`` logger's records."""
        logging.getLogger(LOGGER).addHandler(self)

    def detach(self) -> None:
        """Stop collecting, and forget what was kept."""
        logging.getLogger(LOGGER).removeHandler(self)
        self.entries.clear()
