"""The ASGI lifespan protocol: close the components when the server shuts down.

uvicorn and granian speak it; Daphne does not (its processes simply exit).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from thywill_server.components import components

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


async def lifespan(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Acknowledge start-up; on shutdown close every component, then acknowledge."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await components.aclose_all()
            await send({"type": "lifespan.shutdown.complete"})
            return
