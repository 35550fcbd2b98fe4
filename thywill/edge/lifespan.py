"""The ASGI lifespan protocol: start the presence sweeper, close the components at the end.

uvicorn and granian speak it; Daphne does not (its processes simply exit, and start their
sweeper on the first request that needs it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from thywill.feed.presence import presence
from thywill.wiring.components import components

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


async def lifespan(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Start the presence sweeper; on shutdown stop it and close every component."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            # Sweep from the start, so a process that serves no request yet still runs
            # the disconnect events of clients whose server died.
            presence.ensure_sweeper()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await presence.stop()
            await components.aclose_all()
            await send({"type": "lifespan.shutdown.complete"})
            return
