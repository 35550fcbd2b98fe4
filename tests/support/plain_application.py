"""An application in a package that is not a Django app, with no static files."""

from __future__ import annotations

from thywill import JSON, BaseApplication, Context


class PlainApplication(BaseApplication):
    """Replies with what it gets."""

    title = "Plain"

    def on_message(self, ctx: Context, data: JSON) -> None:
        ctx.reply(data)
