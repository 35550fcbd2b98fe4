"""Activating a client: what makes an issued client live.

A client issued with THYWILL_RESUME on is pending (``ClientIdentity.pending``): nothing
about it is kept, and its application has not heard of it, until its first request
activates it. A reloaded page that resumes its tab's client never uses the client issued
to it, which then costs nothing and is never announced (documentation/transports.md,
"Reloads"). With THYWILL_RESUME off, ``issue_client`` activates each client at once.
"""

from __future__ import annotations

from thywill import conf
from thywill.exceptions import ErrorCode, RejectedError
from thywill.identity.activated import activated
from thywill.identity.tokens import ClientIdentity
from thywill.wire.results import Outcome
from thywill.wiring.runtime import get_runtime


async def activate_client(identity: ClientIdentity, session_key: str) -> None:
    """Record a client, end its session's clients beyond MAX_CLIENTS_PER_SESSION, run
    its connect event and start its presence lease.

    Raises:
        RejectedError: ``refused`` when the application's connect event failed.
        PushUnavailableError: the push backend cannot be reached.
    """
    runtime = get_runtime()
    await runtime.database.record_client(identity, session_key)
    # The session's oldest clients beyond MAX_CLIENTS_PER_SESSION end, as if the server
    # disconnected them: a page reloaded without end holds a bounded number of clients.
    limit = conf.get_limits().max_clients_per_session
    for old in await runtime.database.clients_beyond(session_key, limit):
        await runtime.events.end_client(old)
    result = await runtime.events.handle_connect(
        runtime.application(identity.application), identity
    )
    if result.outcome is Outcome.FAILED:
        assert result.failure is not None
        raise RejectedError(ErrorCode.REFUSED, result.failure.reason)
    # Present from now on: its disconnect event runs once this lease lapses.
    await runtime.presence.renew(identity, force=True)


async def activate_pending(identity: ClientIdentity, session_key: str) -> None:
    """Activate a pending client on its first request; nothing once it is active.

    Off the hot paths: a process asks the database once per pending client (then
    remembers it), and activates under the client's lock, so two first requests at
    once activate it once.

    Raises:
        RejectedError: ``refused`` when its connect event failed; the client is then
            ended (``disconnected`` from then on).
        PushUnavailableError: the push backend cannot be reached.
    """
    if not identity.pending or identity.client_id in activated:
        return
    runtime = get_runtime()
    async with runtime.push.client_lock(identity.client_id):
        recorded = await runtime.database.find_client(identity.client_id) is not None
        refusal = None
        if not recorded:
            try:
                await activate_client(identity, session_key)
            except RejectedError as error:
                refusal = error
    activated.add(identity.client_id)
    if refusal is not None:
        await runtime.events.end_client(identity)  # it takes the client's lock
        raise refusal
