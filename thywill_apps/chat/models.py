"""What the chat keeps in the database: rooms, their messages, and each client's nickname.

Who is in a room right now is not stored here: that is the room's group membership, which
thywill keeps in its push backend (``ctx.members()``). The models are portable: every
string is bounded, and the only unique index is on a short ASCII column (fine on utf8mb4
MySQL, whatever its collation).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db import models

from thywill import JSON

NICK_MAX_LENGTH = 24
ROOM_NAME_MAX_LENGTH = 40
TEXT_MAX_LENGTH = 500
ROOM_GROUP_PREFIX = "room-"


def room_key(name: str) -> str:
    """The key that identifies a room whatever the case of its name (``Lobby`` is
    ``lobby``): the SHA-256 of the case-folded name, in hex.

    Plain ASCII, so that every database compares keys alike: with the names themselves, a
    MySQL collation would take ``café`` for ``cafe`` and SQLite would not. And short, for
    a unique index.
    """
    return hashlib.sha256(name.casefold().encode()).hexdigest()


class Room(models.Model):
    """A chat room: anyone may create one, and it stays."""

    name = models.CharField(max_length=ROOM_NAME_MAX_LENGTH)
    key = models.CharField(max_length=64, unique=True)  # room_key(name)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    @property
    def group(self) -> str:
        """The name of the thywill group whose members are in the room."""
        return f"{ROOM_GROUP_PREFIX}{self.pk}"

    def history(self, count: int) -> list[JSON]:
        """The room's last ``count`` messages, oldest first, as the page shows them."""
        # The foreign key's index (room_id, and the primary key InnoDB and SQLite keep in
        # every index entry) serves this query: no index of its own is needed.
        latest = self.messages.order_by("-id")[:count]
        return [message.as_json() for message in reversed(latest)]


class Message(models.Model):
    """One message said in a room, kept so that newcomers see the conversation."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    nick = models.CharField(max_length=NICK_MAX_LENGTH)
    text = models.CharField(max_length=TEXT_MAX_LENGTH)
    sent_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.nick}: {self.text}"

    def as_json(self) -> dict[str, JSON]:
        """The message as the page gets it (``id`` orders and deduplicates messages)."""
        return {
            "id": self.pk,
            "nick": self.nick,
            "text": self.text,
            "at": self.sent_at.isoformat(),
        }


class Nickname(models.Model):
    """The name a client (one page) goes by; deleted when the client is gone."""

    client_id = models.CharField(primary_key=True, max_length=22)
    # The hash of the client's Django session (never shown to anyone): a page reloaded,
    # or a second tab, is a new client of the same person.
    session = models.CharField(max_length=64)
    name = models.CharField(max_length=NICK_MAX_LENGTH)

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def unused(name: str, session: str, client_id: str) -> str:
        """``name``, or else the first of ``name 2``, ``name 3``... that no other client of
        the browser session ``session`` goes by: a new tab's name, from the last one."""
        taken = {
            taken.casefold()
            for taken in Nickname.objects.filter(session=session)
            .exclude(client_id=client_id)
            .values_list("name", flat=True)
        }
        candidate, number = name, 1
        while candidate.casefold() in taken:
            number += 1
            suffix = f" {number}"
            candidate = name[: NICK_MAX_LENGTH - len(suffix)].rstrip() + suffix
        return candidate

    @staticmethod
    def people(client_ids: Iterable[str]) -> list[str]:
        """The nicknames of these clients, sorted, one per person.

        A person is a session and a name: a reloaded page stays a member of its room until
        its presence lease lapses, and must not show its owner twice meanwhile.
        """
        named = Nickname.objects.filter(client_id__in=list(client_ids))
        pairs = set(named.values_list("session", "name"))
        return sorted((name for _, name in pairs), key=str.casefold)
