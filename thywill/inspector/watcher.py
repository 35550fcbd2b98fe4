"""Each process's side of the inspector: while an inspector page is open anywhere, push
this process's snapshot to the inspector's group once a second.

The watcher of a process costs nothing while no inspector is open: it waits on the
inspector group's channel (the push backend wakes it, as it wakes a transport, without
polling; on Redis through the process's one subscription), and checks once a minute
whether a member joined unseen. An inspector's connect event says hello to the group,
which wakes every process's watcher; each then ticks (``Ticker``) until the group has no
members left, and waits again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from typing import Any

from thywill.api import asend_to_group
from thywill.exceptions import PushUnavailableError
from thywill.feed.channels import group_channel, group_name, group_prefix
from thywill.metrics import counters
from thywill.metrics.errors import ErrorRing
from thywill.wiring.runtime import get_runtime

logger = logging.getLogger(__name__)

GROUP = "inspectors"
"""The inspector application's group: every open inspector page is a member."""

IDLE_CHECK = 60.0
"""Seconds between two checks of the group while no inspector is open (a wake-up from
the push backend normally comes first)."""

RETRY = 5.0
"""Seconds before trying again after the push backend could not be reached."""

GROUPS_SHOWN = 10
"""The groups of each application listed with their sizes (the first, by name); the
count covers them all."""

ERRORS_EVERY = 5
"""Ticks between two snapshots that carry the error ring even when it did not change (so
a page opened since gets it)."""


def process_id() -> str:
    """This process, as the snapshots name it: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Watcher:
    """Waits for an inspector to open, then ticks while one is open.

    Args:
        application: the inspector application's name.
        interval: seconds between two snapshots.
        errors: how many of the latest errors each process keeps.
    """

    def __init__(self, application: str, *, interval: float = 1.0, errors: int = 50):
        self.application = application
        self.interval = interval
        self.process = process_id()
        self.ring = ErrorRing(errors)
        self.ticking = False
        """Whether snapshots are being pushed now (an inspector is open)."""
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None
        self._last = (time.monotonic(), 0, 0)
        self._errors_sent = 0

    @property
    def channel(self) -> str:
        return group_channel(self.application, GROUP)

    # --- Background (thywill.wiring.runtime) -------------------------------------------

    def ensure_running(self) -> None:
        """Start watching on the running event loop, unless watching already."""
        task = self._task
        if task is not None and not task.done() and not task.get_loop().is_closed():
            return
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name="thywill-inspector"
        )

    async def stop(self) -> None:
        """Stop watching (and ticking) and wait until stopped."""
        task, self._task = self._task, None
        if task is None:
            return
        if task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        else:
            self._cancel(task)
        self.ring.detach()

    def cancel(self) -> None:
        """Stop without waiting."""
        task, self._task = self._task, None
        if task is not None:
            self._cancel(task)
        # Here too: a task whose loop is closed never runs its ``finally``.
        self.ring.detach()
        self.ticking = False

    @staticmethod
    def _cancel(task: asyncio.Task[None]) -> None:
        loop = task.get_loop()
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop stopped meanwhile
                loop.call_soon_threadsafe(task.cancel)

    # --- the work ------------------------------------------------------------------------

    async def _run(self) -> None:
        self.ring.attach()
        try:
            while True:
                try:
                    await self._wait_for_inspector()
                    await self._tick_while_watched()
                except PushUnavailableError:
                    # The transports report the outage; try again in a while.
                    self.ticking = False
                    await asyncio.sleep(RETRY)
                except Exception:
                    self.ticking = False
                    logger.exception("The inspector's ticker failed; it retries shortly")
                    await asyncio.sleep(RETRY)
        finally:
            self.ticking = False
            self.ring.detach()

    async def _wait_for_inspector(self) -> None:
        push = get_runtime().push
        while True:
            # The position first: a hello published after it wakes the wait below.
            position = await push.newest_position(self.channel)
            if await push.count_members(self.channel) > 0:
                return
            await push.wait({self.channel: position}, IDLE_CHECK)

    async def _tick_while_watched(self) -> None:
        push = get_runtime().push
        _, messages_in, messages_out = counters.read()
        self._last = (time.monotonic(), messages_in, messages_out)
        self._errors_sent = 0
        self.ticks = 0
        while await push.count_members(self.channel) > 0:
            self.ticking = True
            await asend_to_group(self.application, GROUP, await self.snapshot())
            self.ticks += 1
            await asyncio.sleep(self.interval)
        self.ticking = False

    async def snapshot(self) -> dict[str, Any]:
        """This process's snapshot: its counters, rates since the last one, the push
        backend's groups and presence, and (when they changed, or every few ticks) its
        latest errors.

        Raises:
            PushUnavailableError: the push backend cannot be reached.
        """
        connections, messages_in, messages_out = counters.read()
        now = time.monotonic()
        then, last_in, last_out = self._last
        self._last = (now, messages_in, messages_out)
        elapsed = now - then
        rate_in = (messages_in - last_in) / elapsed if elapsed >= 0.05 else 0.0
        rate_out = (messages_out - last_out) / elapsed if elapsed >= 0.05 else 0.0
        snapshot: dict[str, Any] = {
            "type": "inspector.snapshot",
            "process": self.process,
            "at": time.time(),
            "interval": self.interval,
            "connections": connections,
            "messagesIn": messages_in,
            "messagesOut": messages_out,
            "rateIn": round(rate_in, 2),
            "rateOut": round(rate_out, 2),
            **await backend_state(),
        }
        errors = self.ring.latest()
        newest = errors[-1]["n"] if errors else 0
        if newest != self._errors_sent or self.ticks % ERRORS_EVERY == 0:
            snapshot["errors"] = errors
            self._errors_sent = newest
        return snapshot


async def backend_state() -> dict[str, Any]:
    """What the push backend says now, the same from every process: the clients present
    and each application's groups (how many, and the first ``GROUPS_SHOWN`` with their
    sizes). A bounded number of reads: one, plus two and ``GROUPS_SHOWN`` per
    application.

    Raises:
        PushUnavailableError: the push backend cannot be reached.
    """
    runtime = get_runtime()
    push = runtime.push
    groups: dict[str, Any] = {}
    for spec in runtime.applications():
        prefix = group_prefix(spec.name)
        channels = await push.groups(prefix, limit=GROUPS_SHOWN)
        groups[spec.name] = {
            "count": await push.count_groups(prefix),
            "shown": [
                [group_name(channel), await push.count_members(channel)]
                for channel in channels
            ],
        }
    return {"present": await push.count_present(), "groups": groups}
