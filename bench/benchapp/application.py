"""What the peer harness asks of every system, as a thywill application.

- A message is pushed back to its sender only, unchanged (the round-trip scenarios).
- Every client joins the group ``all`` when it connects, quietly (no join event to the
  others, as with the peers' groups and rooms); a message
  ``{"type": "broadcast", "data": payload}`` sends ``payload`` to that group (fan-out and
  the idle scenario's check), as the Channels and socket.io peers' publisher clients do.
"""

from __future__ import annotations

from thywill import JSON, BaseApplication, Context

EVERYONE = "all"


class BenchApplication(BaseApplication):
    """Echo, and broadcast to the group every client is in."""

    title = "Benchmark"
    quiet_groups = frozenset({EVERYONE})

    async def on_connect(self, ctx: Context) -> None:
        ctx.join(EVERYONE)

    async def on_message(self, ctx: Context, data: JSON) -> None:
        ctx.reply(data)

    async def on_broadcast(self, ctx: Context, data: JSON) -> None:
        if isinstance(data, dict):
            ctx.send_to_group(EVERYONE, data.get("data"))
