"""Outage episodes of a networked push backend: reported once when they start and end."""

from __future__ import annotations

import threading
import time

from thywill import metrics
from thywill.exceptions import PushUnavailableError


class OutageTracker:
    """Turns a backend's connection errors into ``PushUnavailableError`` episodes.

    The first failure after a success starts an episode: its error says so, and the log
    component reports it; the failures that follow while the outage lasts do not. The
    first success after that ends the episode, and the backend reports the recovery.

    Args:
        backend: the backend's name, for the messages (for example ``"Redis"``).
    """

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.label = backend.lower()
        """The backend's name in the metrics (``redis``)."""
        self._down_since: float | None = None
        self._lock = threading.Lock()

    def failed(self, exc: BaseException) -> PushUnavailableError:
        """Record a failure; return the error to raise (chain ``exc`` to it)."""
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = time.monotonic()
        metrics.push_failed(self.label)
        if first:
            metrics.outage(self.label, True)
        return PushUnavailableError(
            f"{self.backend} is unavailable: {exc or type(exc).__name__}",
            first_in_episode=first,
        )

    def succeeded(self) -> float | None:
        """Record a success; return how long the outage it ends lasted, in seconds (None
        when there was none)."""
        if self._down_since is None:  # the hot path: no lock while all is well
            return None
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is None:
            return None
        metrics.outage(self.label, False)
        return time.monotonic() - since
