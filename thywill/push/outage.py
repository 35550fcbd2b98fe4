"""Outage episodes of a networked push backend: logged once when they start and end."""

from __future__ import annotations

import threading
import time

from thywill.exceptions import PushUnavailableError


class OutageTracker:
    """Turns a backend's connection errors into ``PushUnavailableError`` episodes.

    The first failure after a success starts an episode: its error says so, and the log
    component reports it; the failures that follow while the outage lasts do not. The
    first success after that ends the episode and is reported as a recovery.

    Args:
        backend: the backend's name, for the messages (for example ``"Redis"``).
    """

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self._down_since: float | None = None
        self._lock = threading.Lock()

    @property
    def is_down(self) -> bool:
        """Whether the last operation failed."""
        return self._down_since is not None

    def failed(self, exc: BaseException) -> PushUnavailableError:
        """Record a failure; return the error to raise (chain ``exc`` to it)."""
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = time.monotonic()
        return PushUnavailableError(
            f"{self.backend} is unavailable: {exc or type(exc).__name__}",
            first_in_episode=first,
        )

    def succeeded(self) -> None:
        """Record a success; report the recovery when it ends an outage."""
        if self._down_since is None:  # the hot path: no lock while all is well
            return
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is not None:
            # components imports the push backends, which import this module.
            from thywill.wiring.components import components

            components.log.recovered(
                backend=self.backend, downtime=time.monotonic() - since
            )
