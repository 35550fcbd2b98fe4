"""Presence: which clients are connected, as leases in the push backend.

Every open connection renews its client's lease (``ClientFeed`` does it as it reads);
a client whose renewals stop (the tab closed, the network or the server process died)
lets its lease lapse. Every server process sweeps lapsed leases, and the backend hands
each one to exactly one sweeper, which reports it (``on_lapsed``: the runtime runs the
application's disconnect event). Because the lease lives in the push backend, this works
across processes, including when the process that held the connection was killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable

from thywill import metrics
from thywill.exceptions import PushUnavailableError, RejectedError, UnknownApplicationError
from thywill.identity.tokens import (
    ClientIdentity,
    identity_from_payload,
    identity_payload,
)
from thywill.log.base import BaseLog
from thywill.push.base import BasePushBackend

logger = logging.getLogger(__name__)

CLAIM_BATCH = 100
CLAIM_LEASE = 30.0
"""Seconds, at least, that a sweeper has to run a claimed client's disconnect event."""

ClientEvent = Callable[[ClientIdentity], Awaitable[object]]


class Presence:
    """Renews this process's clients' leases and reports them when they lapse.

    Renewals are rate-limited per client to one every third of the lease's lifetime, so
    a busy long-polling client costs the backend one call every ``ttl / 3``.

    Args:
        push: where the leases are.
        log: where a sweep that cannot reach the push backend is reported.
        ttl: seconds a lease lasts without renewal.
        on_returned: called when a connected client's lease had lapsed (its disconnect
            event ran): it is back.
        on_lapsed: called once per lapsed lease, in one process; it may raise
            ``UnknownApplicationError``, and the lease is dropped.
        on_released: awaited after a sweep that reported lapsed leases (what their
            clients held has been freed by then).
    """

    def __init__(
        self,
        push: BasePushBackend,
        *,
        log: BaseLog,
        ttl: float,
        on_returned: ClientEvent,
        on_lapsed: ClientEvent,
        on_released: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.push = push
        self.log = log
        self.ttl = ttl
        self.on_returned = on_returned
        self.on_lapsed = on_lapsed
        self.on_released = on_released
        self._renewed: dict[str, float] = {}
        self.served = False
        """Whether any client has been present through this process."""
        self._next_prune = 0.0
        self._sweepers: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Task[None]
        ] = weakref.WeakKeyDictionary()

    async def renew(self, identity: ClientIdentity, *, force: bool = False) -> bool:
        """Renew a client's lease if it is due; return True when the lease is new.

        A new lease means the client is (again) present. ``force`` renews even when the
        last renewal is recent.

        Raises:
            PushUnavailableError: the push backend cannot be reached.
        """
        self.ensure_sweeper()
        now = time.monotonic()
        last = self._renewed.get(identity.client_id)
        if not force and last is not None and now - last < self.ttl / 3:
            return False
        self._renewed[identity.client_id] = now
        self.served = True
        self._prune(now)
        data = json.dumps(identity_payload(identity), separators=(",", ":"))
        taken = await self.push.renew_presence(identity.client_id, data, self.ttl)
        if taken:
            metrics.lease_taken()
        return taken

    async def keep_alive(self, identity: ClientIdentity) -> None:
        """Renew a connected client's lease when due (what every transport's feed calls).

        When the lease was gone (it lapsed and its disconnect event ran), the client is
        back: ``on_returned`` runs.
        """
        if await self.renew(identity):
            await self.on_returned(identity)

    async def leave_soon(self, identity: ClientIdentity, grace: float) -> None:
        """Shorten a client's lease to ``grace`` seconds: its page said it is going.

        A page that comes back within them (a reload that resumes the client) renews the
        lease as any reader does, and nobody hears of it; otherwise the lease lapses and
        the sweep runs the disconnect event, within ``grace`` plus one sweep interval.

        Raises:
            PushUnavailableError: the push backend cannot be reached.
        """
        # Forget the last renewal, so that the client's next read renews at once.
        self._renewed.pop(identity.client_id, None)
        data = json.dumps(identity_payload(identity), separators=(",", ":"))
        await self.push.renew_presence(identity.client_id, data, grace)

    async def end(self, identity: ClientIdentity) -> int:
        """End a connected client's presence now, as if its lease had lapsed.

        The lease is made to lapse at once (renewed for no time) and this process
        sweeps: the client's disconnect event runs through ``on_lapsed`` before this
        returns, and its lease is gone, so it never lapses again. Only for a client that
        holds a lease: one whose disconnect event already ran would be given a new lease
        and disconnected again. Another process's sweeper may claim the lapsed lease
        first, and run the event there; the in-memory backend leaves no room for that.

        Returns:
            How many disconnect events the sweep ran: this client's, and those of any
            other lease that had lapsed meanwhile.

        Raises:
            PushUnavailableError: the push backend cannot be reached.
        """
        self._renewed.pop(identity.client_id, None)
        data = json.dumps(identity_payload(identity), separators=(",", ":"))
        await self.push.renew_presence(identity.client_id, data, 0.0)
        return await self.sweep()

    def ensure_sweeper(self) -> None:
        """Start the running event loop's sweeper, unless it runs already."""
        loop = asyncio.get_running_loop()
        task = self._sweepers.get(loop)
        if task is None or task.done():
            self._sweepers[loop] = loop.create_task(
                self._sweep_forever(), name="thywill-presence"
            )

    async def stop(self) -> None:
        """Stop the running event loop's sweeper (at server shutdown)."""
        task = self._sweepers.pop(asyncio.get_running_loop(), None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def cancel(self) -> None:
        """Cancel every loop's sweeper without waiting (the settings changed)."""
        for loop, task in list(self._sweepers.items()):
            if not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # the loop stopped meanwhile
                    loop.call_soon_threadsafe(task.cancel)
        self._sweepers.clear()

    async def sweep(self) -> int:
        """Claim lapsed leases and report each; return how many were reported."""
        # A claim this process does not settle in time (it died) goes to another one.
        lease = max(self.ttl, CLAIM_LEASE)
        done = 0
        while True:
            lapsed = await self.push.claim_lapsed(CLAIM_BATCH, lease)
            for client_id, data in lapsed:
                self._renewed.pop(client_id, None)
                if await self._report_lapsed(client_id, data):
                    metrics.lease_lapsed()
                    done += 1
                await self.push.ack_lapsed(client_id)
            if len(lapsed) < CLAIM_BATCH:
                if done and self.on_released is not None:
                    await self.on_released()
                return done

    async def _report_lapsed(self, client_id: str, data: str) -> bool:
        """Report one lapsed lease; False when it names no client of an application."""
        try:
            identity: ClientIdentity | None = identity_from_payload(json.loads(data))
        except (ValueError, RejectedError):
            identity = None
        if identity is not None:
            try:
                await self.on_lapsed(identity)
                return True
            except UnknownApplicationError:
                pass
        logger.warning("Dropped the lapsed lease of client %s: %r", client_id, data)
        return False

    async def _sweep_forever(self) -> None:
        while True:
            interval = min(max(self.ttl / 4, 0.05), 5.0)
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except PushUnavailableError as exc:
                # Logged once per outage by the backend's episode tracking.
                self.log.unavailable(exc, path="(presence sweep)")
            except Exception:
                logger.exception("The presence sweep failed; it runs again shortly")

    def _prune(self, now: float) -> None:
        """Forget renewal times older than a lease (they no longer rate-limit anything)."""
        if now < self._next_prune:
            return
        self._next_prune = now + self.ttl
        for client_id in [c for c, t in self._renewed.items() if now - t >= self.ttl]:
            del self._renewed[client_id]
