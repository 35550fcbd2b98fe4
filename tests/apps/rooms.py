"""An application with groups, typed handlers, ORM writes and a pipe, for tests."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

from thywill import BaseApplication, Context
from thywill.models import Client
from thywill.pipeline import Event, NextPipe, Pipe, fail, use_pipes
from thywill.pipeline.pipes import SchemaPipe
from thywill.types import JSON


class Upper(Pipe):
    """Sends every outbound string in capitals (an on_send transform)."""

    def on_send(self, data: JSON) -> JSON:
        return data.upper() if isinstance(data, str) else data


def record(client_id: str) -> None:
    """Write a Client row: a database side effect a test can look for."""
    Client.objects.create(id=client_id, application="rooms", session_key="s" * 32)


class Doubling(Pipe):
    """Doubles a number the handler returned (pipes see the reply after next_pipe)."""

    async def pipe(self, next_pipe: NextPipe, event: Event) -> None:
        await next_pipe()
        if isinstance(event.reply, int):
            event.reply *= 2


class RoomsApplication(BaseApplication):
    """Rooms: join, leave, say, who; plus messages that write to the database."""

    title = "Rooms"
    scripts = ("echo/echo.js",)
    pipeline = (Upper(),)
    quiet_groups = frozenset({"everyone"})

    def on_message(self, ctx: Context, data: JSON) -> None:
        ctx.reply({"untyped": data})

    def on_room_join(self, ctx: Context, data: dict) -> None:
        ctx.join(data["room"])

    def on_room_leave(self, ctx: Context, data: dict) -> None:
        ctx.leave(data["room"])

    @use_pipes(SchemaPipe(types={"room.say": {"required": ["room", "text"]}}))
    def on_room_say(self, ctx: Context, data: dict) -> None:
        ctx.send_to_group(data["room"], {"from": ctx.client_id, "text": data["text"]})

    def on_room_char(self, ctx: Context, data: dict) -> None:
        # Text made by the application, not sent by the client: here any code point,
        # a lone surrogate included.
        ctx.send_to_group(data["room"], {"char": chr(data["code"])})

    def on_room_who(self, ctx: Context, data: dict) -> None:
        ctx.reply({"members": ctx.members(data["room"]), "groups": ctx.groups()})

    async def on_room_awho(self, ctx: Context, data: dict) -> None:
        ctx.reply({"members": await ctx.amembers(data["room"])})

    def on_room_users(self, ctx: Context, data: dict) -> JSON:
        return ctx.user_counts(data["room"])

    def on_room_count(self, ctx: Context, data: dict) -> JSON:
        # The hook scripts' pre_room_count added the count (tests/apps/hooks/rules.py).
        return data["count"]

    def on_room_acount(self, ctx: Context, data: dict) -> JSON:
        return {"count": data["count"], "claimed": data["claimed"]}

    def on_whoami(self, ctx: Context, data: dict) -> JSON:
        return ctx.user.get_username()

    async def on_awhoami(self, ctx: Context, data: dict) -> JSON:
        return (await ctx.auser()).get_username()

    def on_shout(self, ctx: Context, data: dict) -> None:
        ctx.reply(data["text"])

    def on_ask(self, ctx: Context, data: dict) -> JSON:
        # A reply: the send's result carries what the handler returns.
        return data.get("answer")

    async def on_aask(self, ctx: Context, data: dict) -> JSON:
        return data.get("answer")

    @use_pipes(Doubling())
    def on_ask_doubled(self, ctx: Context, data: dict) -> JSON:
        return data.get("answer")

    def on_ask_badly(self, ctx: Context, data: dict) -> object:
        return {"not json": object()}

    def on_refuse(self, ctx: Context, data: dict) -> None:
        ctx.reply("never delivered")
        fail("The core says no.")

    def on_join_then_refuse(self, ctx: Context, data: dict) -> None:
        ctx.join(data["room"])
        ctx.send_to_group(data["room"], "never delivered")
        fail("Joined, then refused.")

    def on_db_write(self, ctx: Context, data: dict) -> None:
        record(data["id"])
        ctx.reply({"written": data["id"]})
        if data.get("raise"):
            raise RuntimeError("rooms handler asked to fail after writing")
        if data.get("rollback"):
            transaction.set_rollback(True)

    def on_disconnect(self, ctx: Context) -> None:
        for group in ctx.groups():
            ctx.send_to_group(group, {"bye": ctx.client_id})


class HookedRoomsApplication(RoomsApplication):
    """Rooms with hook scripts of its own, in the folder its ``hooks`` option names."""

    def __init__(self, *, name: str, hooks: str) -> None:
        super().__init__(name=name)
        self.hooks = Path(hooks)


class UserRoomsApplication(RoomsApplication):
    """Rooms whose groups announce users, not clients (per-user presence)."""

    presence = "user"
