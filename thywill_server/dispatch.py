"""Running application handlers for client events, and releasing what they sent.

A handler's sends are published only after it returned without raising. Every event
passes through here, so this is the seam where a pipeline of pipes will wrap them.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from asgiref.sync import sync_to_async

from thywill_server.application.base import Application
from thywill_server.application.context import Context
from thywill_server.components import components
from thywill_server.envelope import InboundMessage
from thywill_server.exceptions import PushUnavailableError
from thywill_server.identity.tokens import ClientIdentity

Outbox = list[tuple[str, str]]


class Outcome(enum.StrEnum):
    """What became of one event, as reported to the client."""

    OK = "ok"
    DUPLICATE = "duplicate"
    ERROR = "error"


async def call_handler(handler: Callable[..., Any], *args: Any) -> None:
    """Call a sync or async handler; sync ones run in Django's sync thread (ORM-safe)."""
    if inspect.iscoroutinefunction(handler):
        await handler(*args)
        return
    result = await sync_to_async(handler, thread_sensitive=True)(*args)
    if inspect.isawaitable(result):
        await result


async def run_event(
    app: Application,
    identity: ClientIdentity,
    event: str,
    handler: Callable[..., Any],
    *args: Any,
) -> tuple[Outcome, Outbox]:
    """Run ``handler(ctx, *args)``; return its outcome and its sends (none on error)."""
    ctx = Context(identity)
    try:
        await call_handler(handler, ctx, *args)
    except PushUnavailableError:
        raise
    except Exception:  # noqa: BLE001  (a handler's bug must not take the request down)
        components.log.handler_failed(
            application=app.name, client_id=identity.client_id, event=event
        )
        return Outcome.ERROR, []
    return Outcome.OK, ctx.take_outbox()


async def handle_connect(app: Application, identity: ClientIdentity) -> Outcome:
    """Run the application's connect handler: the client is newly present."""
    return await _handle_presence_event(app, identity, "connect", app.on_connect)


async def handle_disconnect(app: Application, identity: ClientIdentity) -> Outcome:
    """Run the application's disconnect handler: the client's presence lease lapsed."""
    return await _handle_presence_event(app, identity, "disconnect", app.on_disconnect)


async def _handle_presence_event(
    app: Application, identity: ClientIdentity, event: str, handler: Callable[..., Any]
) -> Outcome:
    outcome, outbox = await run_event(app, identity, event, handler)
    if outbox:
        await components.push.publish_many(outbox)
    return outcome


async def handle_messages(
    app: Application, identity: ClientIdentity, messages: Sequence[InboundMessage]
) -> list[Outcome]:
    """Handle a client's messages in order, each at most once.

    The client's lock is held throughout, so an overlapping retry of the same request
    waits for this one and then finds duplicates. A message's sequence number is
    recorded together with what its handler sent: when the push backend fails before
    that, the message was not handled as far as the client can tell, and its retry is
    handled again.
    """
    push = components.push
    outcomes = []
    async with push.client_lock(identity.client_id):
        last = await push.last_sequence(identity.client_id)
        for message in messages:
            if message.seq <= last:
                outcomes.append(Outcome.DUPLICATE)
                continue
            outcome, outbox = await run_event(
                app, identity, "message", app.on_message, message.data
            )
            if (
                await push.publish_sequenced(identity.client_id, message.seq, outbox)
                is None
            ):
                outcome = Outcome.DUPLICATE  # recorded by a process that ignored the lock
            outcomes.append(outcome)
            last = message.seq
    return outcomes
