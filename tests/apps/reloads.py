"""An application for the tests of reloads: every client joins one announced group."""

from __future__ import annotations

from thywill import BaseApplication, Context
from thywill.types import JSON

HALL = "hall"
"""The group every client joins when it connects; its joins and leaves are announced."""


class ReloadsApplication(BaseApplication):
    """On connect: joins ``hall`` and is welcomed. ``{"to": client_id, "n": k}`` sends
    ``{"n": 1}`` to ``{"n": k}`` to that client, in order."""

    title = "Reloads"
    scripts = ("echo/echo.js",)

    def on_connect(self, ctx: Context) -> None:
        ctx.join(HALL)
        ctx.reply({"welcome": ctx.client_id})

    def on_message(self, ctx: Context, data: JSON) -> None:
        if isinstance(data, dict) and isinstance(data.get("to"), str):
            count = data.get("n")
            for n in range(1, count + 1 if isinstance(count, int) else 1):
                ctx.send(data["to"], {"n": n})
