"""Running application handlers for client events, and releasing what they sent.

A handler's sends are published only after it returned without raising. Every event
passes through here, so this is the seam where a pipeline of pipes will wrap them.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async

from thywill_server.application.base import Application
from thywill_server.application.context import Context
from thywill_server.components import components
from thywill_server.envelope import InboundMessage
from thywill_server.exceptions import PushUnavailableError
from thywill_server.identity.tokens import ClientIdentity


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
    invoke: Callable[[Context], Awaitable[None]],
) -> Outcome:
    """Run one event's handler and release its outbox when it succeeds."""
    ctx = Context(identity)
    try:
        await invoke(ctx)
    except PushUnavailableError:
        raise
    except Exception:  # noqa: BLE001  (a handler's bug must not take the request down)
        components.log.handler_failed(
            application=app.name, client_id=identity.client_id, event=event
        )
        return Outcome.ERROR
    outbox = ctx.take_outbox()
    if outbox:
        await components.push.publish_many(outbox)
    return Outcome.OK


async def handle_connect(app: Application, identity: ClientIdentity) -> Outcome:
    """Run the application's connect handler for a newly issued client."""
    return await run_event(
        app, identity, "connect", lambda ctx: call_handler(app.on_connect, ctx)
    )


async def handle_message(
    app: Application, identity: ClientIdentity, message: InboundMessage
) -> Outcome:
    """Handle one inbound message exactly once (duplicates by ``seq`` are skipped)."""
    if not await components.push.advance_sequence(identity.client_id, message.seq):
        return Outcome.DUPLICATE
    return await run_event(
        app,
        identity,
        "message",
        lambda ctx: call_handler(app.on_message, ctx, message.data),
    )
