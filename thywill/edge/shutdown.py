"""Graceful shutdown: on SIGTERM (or SIGINT) every open stream is told to reconnect, then
the ASGI server's own shutdown runs (documentation/deployment.md).

The servers alone do not do it: uvicorn waits for open responses before it sends the
lifespan shutdown (forever without ``--timeout-graceful-shutdown``, and an SSE stream never
ends by itself), and Daphne cancels every application instance at once, so streams are cut
rather than ended. So thywill puts its own handler in front of the server's, once it runs
inside the server (``install()``: at lifespan startup, or at the first request). The
handler starts the **drain**: open WebSocket connections close with 1012, SSE streams end,
waiting long-polls answer what they have, new requests are told to come back; it then
waits for the requests under way to finish, at most ``DRAIN_TIMEOUT`` seconds, and calls
the server's handler, which stops the process as usual. A second signal skips the wait.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from types import FrameType
from typing import Any, TypeVar

from thywill.exceptions import ErrorCode, RejectedError

logger = logging.getLogger(__name__)

T = TypeVar("T")

DRAIN_TIMEOUT = 5.0
"""How long requests under way get to finish after a SIGTERM before the server's own
shutdown runs, in seconds."""

SIGNALS = (signal.SIGTERM, signal.SIGINT)

Handler = Callable[[int, FrameType | None], Any] | int | None


class Drain:
    """The process's shutdown state: whether it is draining, and its requests under way."""

    def __init__(self) -> None:
        self.draining = False
        self._active: collections.Counter[str] = collections.Counter()
        self._idle: list[asyncio.Future[None]] = []
        self._waiting: dict[asyncio.Task[Any], bool] = {}
        """The tasks in ``unless_draining``: whether the drain has cancelled them."""
        self._previous: dict[int, Handler] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    # --- what the transports use ------------------------------------------------------

    async def unless_draining(self, awaitable: Awaitable[T]) -> T | None:
        """``awaitable``'s result, or ``None`` once draining starts first (it is then
        cancelled).

        ``awaitable`` runs in the calling task (an idle stream holds no second task for
        its wait), which the drain cancels; that cancellation ends here, and the caller
        goes on to write its last frame and close. A cancellation of the caller by
        anyone else still reaches it.
        """
        if self.draining:
            if inspect.iscoroutine(awaitable):
                awaitable.close()  # never started: nothing to cancel
            return None
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("unless_draining() runs in a task")
        self._waiting[task] = False
        try:
            return await awaitable
        except asyncio.CancelledError:
            if not self._waiting[task] or task.uncancel() > 0:
                raise
            return None
        finally:
            del self._waiting[task]

    @contextlib.asynccontextmanager
    async def request(self, path: str) -> AsyncIterator[None]:
        """Count a request under way: the drain waits for it."""
        self.enter(path)
        try:
            yield
        finally:
            self.leave(path)

    def enter(self, path: str) -> None:
        """Count a connection under way (a WebSocket), until ``leave()``."""
        self._active[path] += 1

    def leave(self, path: str) -> None:
        self._active[path] -= 1
        if self._active.total() == 0:
            for idle in self._idle:
                _resolve(idle)
            self._idle.clear()

    # --- the signal handler -----------------------------------------------------------

    def install(self) -> None:
        """Put the drain in front of the running server's SIGTERM and SIGINT handlers.

        Once per process, from the server's event loop in the main thread (elsewhere,
        signals cannot be handled: nothing is done).
        """
        if self._previous or threading.current_thread() is not threading.main_thread():
            return
        self._loop = asyncio.get_running_loop()
        for signum in SIGNALS:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.draining or self._loop is None or self._loop.is_closed():
            self._pass_on(signum, frame)  # a second signal: no more waiting
            return
        logger.info("Signal %s: telling every stream to reconnect, then stopping", signum)
        self._loop.call_soon_threadsafe(self._start_drain, signum, frame)

    def _start_drain(self, signum: int, frame: FrameType | None) -> None:
        self.begin()
        self._task = asyncio.ensure_future(self._drain_then_stop(signum, frame))

    async def _drain_then_stop(self, signum: int, frame: FrameType | None) -> None:
        if not await self.wait_idle(DRAIN_TIMEOUT):
            logger.warning(
                "Requests still under way %.0f s after the signal (%s): stopping anyway",
                DRAIN_TIMEOUT,
                ", ".join(f"{n} {path}" for path, n in self._active.items() if n),
            )
        self._pass_on(signum, frame)

    def _pass_on(self, signum: int, frame: FrameType | None) -> None:
        previous = self._previous.get(signum)
        if callable(previous):
            previous(signum, frame)
            return
        # The default action (or none was known): restore it and signal again.
        signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    # --- draining ---------------------------------------------------------------------

    def begin(self) -> None:
        """Start draining: every stream ends, every new request is told to come back."""
        self.draining = True
        for task in list(self._waiting):
            loop = task.get_loop()
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._cut, task)

    def _cut(self, task: asyncio.Task[Any]) -> None:
        """Cancel a task's wait in ``unless_draining``, if it is still in it (in the
        task's own loop: it may have left the wait since ``begin()``)."""
        if self._waiting.get(task) is False:
            self._waiting[task] = True
            task.cancel()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is under way, at most ``timeout`` seconds; whether none
        is."""
        if self._active.total() > 0:
            idle = asyncio.get_running_loop().create_future()
            self._idle.append(idle)
            await asyncio.wait((idle,), timeout=timeout)
        return self._active.total() == 0

    def reset(self) -> None:
        """Back to serving, the handlers as they were (for tests)."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self.__init__()  # type: ignore[misc]


def refusal() -> RejectedError:
    """What a new stream is answered while the process drains: 503 (close 4503), so the
    client comes back after a backoff, to another process or to this one restarted."""
    return RejectedError(
        ErrorCode.UNAVAILABLE, "The server is restarting; connect again shortly."
    )


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


drain = Drain()
"""The process's drain."""
