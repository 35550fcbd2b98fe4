"""Presence: which clients are connected, as leases in the push backend.

Every open connection renews its client's lease (``ClientFeed`` does it as it reads);
a client whose renewals stop (the tab closed, the network or the server process died)
lets its lease lapse. Every server process sweeps lapsed leases, and the backend hands
each one to exactly one sweeper, which runs the application's disconnect event. Because
the lease lives in the push backend, this works across processes, including when the
process that held the connection was killed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref

from thywill import conf
from thywill.exceptions import PushUnavailableError, RejectedError
from thywill.identity.tokens import (
    ClientIdentity,
    identity_from_payload,
    identity_payload,
)
from thywill.wiring.components import UnknownApplicationError, applications, components

logger = logging.getLogger(__name__)

CLAIM_BATCH = 100
CLAIM_LEASE = 30.0
"""Seconds, at least, that a sweeper has to run a claimed client's disconnect event."""


class Presence:
    """Renews this process's clients' leases and runs disconnect events when they lapse.

    Renewals are rate-limited per client to one every third of the lease's lifetime, so
    a busy long-polling client costs the backend one call every ``presence_ttl / 3``.
    """

    def __init__(self) -> None:
        self._renewed: dict[str, float] = {}
        self._next_prune = 0.0
        self._sweepers: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Task[None]
        ] = weakref.WeakKeyDictionary()

    async def renew(self, identity: ClientIdentity, *, force: bool = False) -> bool:
        """Renew a client's lease if it is due; return True when the lease is new.

        A new lease means the client is (again) present: the caller runs its connect
        event. ``force`` renews even when the last renewal is recent.

        Raises:
            PushUnavailableError: the push backend cannot be reached.
        """
        self.ensure_sweeper()
        ttl = conf.get_limits().presence_ttl
        now = time.monotonic()
        last = self._renewed.get(identity.client_id)
        if not force and last is not None and now - last < ttl / 3:
            return False
        self._renewed[identity.client_id] = now
        self._prune(now, ttl)
        data = json.dumps(identity_payload(identity), separators=(",", ":"))
        return await components.push.renew_presence(identity.client_id, data, ttl)

    async def keep_alive(self, identity: ClientIdentity) -> None:
        """Renew a connected client's lease when due (what every transport's feed calls).

        When the lease was gone (it lapsed and its disconnect event ran), the client is
        back: its connect event runs again.
        """
        if await self.renew(identity):
            # dispatch imports the feed, which imports this module: import it late.
            from thywill.events.runner import handle_connect

            await handle_connect(applications.get(identity.application), identity)

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

    async def sweep(self) -> int:
        """Claim lapsed leases and run their disconnect events; return how many ran."""
        # dispatch imports the feed, which imports this module: import it late.
        from thywill.events.runner import handle_disconnect

        push = components.push
        # A claim this process does not settle in time (it died) goes to another one.
        lease = max(conf.get_limits().presence_ttl, CLAIM_LEASE)
        done = 0
        while True:
            lapsed = await push.claim_lapsed(CLAIM_BATCH, lease)
            for client_id, data in lapsed:
                self._renewed.pop(client_id, None)
                try:
                    identity = identity_from_payload(json.loads(data))
                    app = applications.get(identity.application)
                except (ValueError, RejectedError, UnknownApplicationError):
                    logger.warning(
                        "Dropped the lapsed lease of client %s: %r", client_id, data
                    )
                else:
                    await handle_disconnect(app, identity)
                    done += 1
                await push.ack_lapsed(client_id)
            if len(lapsed) < CLAIM_BATCH:
                return done

    async def _sweep_forever(self) -> None:
        while True:
            interval = min(max(conf.get_limits().presence_ttl / 4, 0.05), 5.0)
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except PushUnavailableError as exc:
                # Logged once per outage by the backend's episode tracking.
                components.log.unavailable(exc, path="(presence sweep)")
            except Exception:
                logger.exception("The presence sweep failed; it runs again shortly")

    def _prune(self, now: float, ttl: float) -> None:
        """Forget renewal times older than a lease (they no longer rate-limit anything)."""
        if now < self._next_prune:
            return
        self._next_prune = now + ttl
        for client_id in [c for c, t in self._renewed.items() if now - t >= ttl]:
            del self._renewed[client_id]


presence = Presence()
