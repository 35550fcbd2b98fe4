"""The echo application: every message goes back to the client that sent it."""

from __future__ import annotations

from thywill import JSON, BaseApplication, Context


class EchoApplication(BaseApplication):
    """Replies to each message with the same data, to its sender only."""

    title = "Echo"
    description = "Each message makes the round trip to the server and back to its tab."
    scripts = ("echo/echo.js",)
    styles = ("echo/echo.css",)

    async def on_message(self, ctx: Context, data: JSON) -> None:
        ctx.reply(data)
