"""The chat application: rooms, nicknames, who is here, and each room's history.

Every page is a client; its messages (``{"type": "chat.say", ...}``) go to the handlers
below, one per type. README.md gives the protocol between the page and these handlers,
and why the page asks for a room's history and people after it joined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from thywill import JSON, BaseApplication, Context, fail, use_pipes
from thywill_apps.chat.models import (
    NICK_MAX_LENGTH,
    ROOM_GROUP_PREFIX,
    ROOM_NAME_MAX_LENGTH,
    TEXT_MAX_LENGTH,
    Nickname,
    Room,
    room_key,
)
from thywill_apps.chat.pipes import CleanText

LOBBY = "lobby"
"""The group every client joins when it connects: it hears of rooms as they are made."""

ROOMS_LISTED = 100
"""The most rooms a page is given (the first ones by name, in the database's order)."""

ROOM_NAME = CleanText(
    "room", label="A room name", max_length=ROOM_NAME_MAX_LENGTH, single_line=True
)


def current_room(ctx: Context) -> Room | None:
    """The room the client is in (a client is in one room at most), or None."""
    for group in ctx.groups():
        if group.startswith(ROOM_GROUP_PREFIX):
            pk = int(group.removeprefix(ROOM_GROUP_PREFIX))
            return Room.objects.filter(pk=pk).first()
    return None


def required_room(ctx: Context) -> Room:
    """The client's room; refuses the message when it is in none."""
    room = current_room(ctx)
    if room is None:
        fail("Join a room first.", code="not_in_room")
    return room


def required_nickname(ctx: Context) -> Nickname:
    """The client's nickname; refuses the message when it has none."""
    nickname = Nickname.objects.filter(client_id=ctx.client_id).first()
    if nickname is None:
        fail("Choose a nickname first.", code="no_nick")
    return nickname


def enter(ctx: Context, room: Room) -> None:
    """Move the client into ``room``: out of its current room, into the room's group."""
    for group in ctx.groups():
        if group.startswith(ROOM_GROUP_PREFIX) and group != room.group:
            ctx.leave(group)
    ctx.join(room.group)
    ctx.reply({"type": "chat.joined", "room": room.name, "group": room.group})


class ChatApplication(BaseApplication):
    """Chat rooms: pick a nickname, create or join a room, talk, see who is here.

    Rooms, their messages and nicknames are models; who is in a room is the membership
    of the room's group, kept by thywill, so a client that is gone leaves its room by
    itself (its disconnect event).

    Args:
        name: the application's name in settings.
        rooms: rooms that always exist, made when the first page connects.
        history: how many of its last messages a room shows to a newcomer.
    """

    title = "Chat"
    description = "Rooms, nicknames, who is here, and the last messages of each room."
    # Every page is in the lobby, to hear of new rooms, not of each other.
    quiet_groups = frozenset({LOBBY})
    scripts = ("chat/chat.js",)
    styles = ("chat/chat.css",)

    def __init__(
        self, *, name: str, rooms: Sequence[str] = ("Lobby",), history: int = 50
    ) -> None:
        super().__init__(name=name)
        for room in rooms:
            if not 0 < len(room) <= ROOM_NAME_MAX_LENGTH or room != room.strip():
                raise ValueError(f"{room!r} is not a room name")
        if history < 1:
            raise ValueError(f"history must be at least 1, not {history}")
        self.rooms = tuple(rooms)
        self.history = history

    def client_config(self) -> dict[str, JSON]:
        """The length limits, for the page's inputs."""
        return {
            "maxNick": NICK_MAX_LENGTH,
            "maxRoom": ROOM_NAME_MAX_LENGTH,
            "maxText": TEXT_MAX_LENGTH,
        }

    def on_connect(self, ctx: Context) -> None:
        """Join the lobby and say hello: the page then sets its nickname and room."""
        for name in self.rooms:
            Room.objects.get_or_create(key=room_key(name), defaults={"name": name})
        ctx.join(LOBBY)
        ctx.reply({"type": "chat.hello"})

    @use_pipes(
        CleanText("nick", label="A nickname", max_length=NICK_MAX_LENGTH, single_line=True)
    )
    def on_chat_nick(self, ctx: Context, data: Mapping[str, Any]) -> None:
        """``{"type": "chat.nick", "nick", "fresh"?}``: set or change the client's
        nickname. With ``"fresh": true`` (a new tab starting from the browser's last
        nickname), another tab of the browser's session keeps it: this one is ``nick 2``,
        ``nick 3``..."""
        nick = data["nick"]
        session = ctx.identity.session_hash
        if data.get("fresh") is True:
            nick = Nickname.unused(nick, session, ctx.client_id)
        previous = Nickname.objects.filter(client_id=ctx.client_id).first()
        Nickname.objects.update_or_create(
            client_id=ctx.client_id,
            defaults={"session": session, "name": nick},
        )
        ctx.reply({"type": "chat.nick", "nick": nick})
        room = current_room(ctx)
        if room is not None and previous is not None and previous.name != nick:
            renamed = {"room": room.name, "from": previous.name, "to": nick}
            ctx.send_to_group(room.group, {"type": "chat.renamed", **renamed})

    def on_chat_rooms(self, ctx: Context, data: Mapping[str, Any]) -> None:
        """``{"type": "chat.rooms"}``: the names of the rooms."""
        names = Room.objects.order_by("name").values_list("name", flat=True)
        ctx.reply({"type": "chat.rooms", "rooms": list(names[:ROOMS_LISTED])})

    @use_pipes(ROOM_NAME)
    def on_chat_create(self, ctx: Context, data: Mapping[str, Any]) -> None:
        """``{"type": "chat.create", "room"}``: make a room (if new) and join it."""
        required_nickname(ctx)  # before anything is written
        room, created = Room.objects.get_or_create(
            key=room_key(data["room"]), defaults={"name": data["room"]}
        )
        if created:
            ctx.send_to_group(LOBBY, {"type": "chat.created", "room": room.name})
        enter(ctx, room)

    @use_pipes(ROOM_NAME)
    def on_chat_join(self, ctx: Context, data: Mapping[str, Any]) -> None:
        """``{"type": "chat.join", "room"}``: move into the room of that name."""
        required_nickname(ctx)
        room = Room.objects.filter(key=room_key(data["room"])).first()
        if room is None:
            fail(f"There is no room called {data['room']}.", code="no_room")
        enter(ctx, room)

    def on_chat_leave(self, ctx: Context, data: Mapping[str, Any]) -> None:
        """``{"type": "chat.leave"}``: leave the current room (if any)."""
        room = current_room(ctx)
        if room is not None:
            ctx.leave(room.group)
        ctx.reply({"type": "chat.left"})

    def on_chat_history(self, ctx: Context, data: Mapping[str, Any]) -> None:
        """``{"type": "chat.history"}``: the current room's last messages."""
        room = required_room(ctx)
        messages = room.history(self.history)
        ctx.reply({"type": "chat.history", "room": room.name, "messages": messages})

    def on_chat_people(self, ctx: Context, data: Mapping[str, Any]) -> None:
        """``{"type": "chat.people"}``: who is in the current room now."""
        room = required_room(ctx)
        people = Nickname.people(ctx.members(room.group))
        ctx.reply({"type": "chat.people", "room": room.name, "people": people})

    @use_pipes(CleanText("text", label="A message", max_length=TEXT_MAX_LENGTH))
    def on_chat_say(self, ctx: Context, data: Mapping[str, Any]) -> None:
        """``{"type": "chat.say", "text"}``: say something in the current room."""
        room = required_room(ctx)
        nickname = required_nickname(ctx)
        message = room.messages.create(nick=nickname.name, text=data["text"])
        said = {"type": "chat.said", "room": room.name, **message.as_json()}
        ctx.send_to_group(room.group, said)

    def on_disconnect(self, ctx: Context) -> None:
        """The client is gone: forget its nickname (thywill takes it out of its groups)."""
        Nickname.objects.filter(client_id=ctx.client_id).delete()
