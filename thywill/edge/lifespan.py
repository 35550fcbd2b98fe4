"""The ASGI lifespan protocol: start thywill's background work, close the components at
the end.

uvicorn and granian speak it; Daphne does not (its processes simply exit, and start their
presence sweeper on the first request that needs it).
"""

from __future__ import annotations

from thywill.edge.shutdown import drain
from thywill.metrics.exposition import process_exiting
from thywill.types import Receive, Scope, Send
from thywill.wiring.runtime import get_runtime


async def lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    """Start the presence sweeper; on shutdown stop it, close every component and take
    this process's live gauges out of the metrics."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            # Sweep from the start, so a process that serves no request yet still runs
            # the disconnect events of clients whose server died.
            get_runtime().start()
            drain.install()  # SIGTERM: streams told to reconnect first
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await get_runtime().aclose()
            # Here, not only at exit: uvicorn ends by raising the signal it caught again,
            # and a process killed by SIGTERM runs no atexit hook.
            process_exiting()
            await send({"type": "lifespan.shutdown.complete"})
            return
