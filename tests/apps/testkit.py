"""An application for tests: echo, plus messages that make the handler misbehave."""

from __future__ import annotations

from tests.apps.models import Departure
from thywill import BaseApplication, Context
from thywill.types import JSON


class TestkitApplication(BaseApplication):
    """Echoes data back.

    ``{"raise": true}`` sends, then raises; ``{"to": client_id, "data": ...}`` forwards;
    ``{"whoami": true}`` answers ``{"user": ctx.user_id}``.
    """

    title = "Testkit"
    scripts = ("echo/echo.js",)
    styles = ("echo/echo.css",)

    def on_connect(self, ctx: Context) -> None:
        ctx.reply({"welcome": ctx.client_id})

    def on_disconnect(self, ctx: Context) -> None:
        # The database is shared by every server process: tests count these rows.
        Departure.objects.create(client_id=ctx.client_id)

    def on_message(self, ctx: Context, data: JSON) -> None:
        if isinstance(data, dict) and data.get("raise"):
            ctx.reply({"never": "delivered"})
            raise RuntimeError("testkit handler asked to fail")
        if isinstance(data, dict) and data.get("whoami"):
            ctx.reply({"user": ctx.user_id})
            return
        if isinstance(data, dict) and isinstance(data.get("to"), str):
            ctx.send(data["to"], {"from": ctx.client_id, "data": data.get("data")})
            return
        ctx.reply(data)
