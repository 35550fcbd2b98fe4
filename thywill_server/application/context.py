"""The context handed to application handlers."""

from __future__ import annotations

import json

from thywill_server.exceptions import HandlerOutputError
from thywill_server.identity.tokens import CLIENT_ID, ClientIdentity, private_channel
from thywill_server.types import JSON


class Context:
    """One event as an application handler sees it, and the way to send from it.

    What a handler sends is kept in an outbox and released only after the handler has
    returned without raising: a failed handler sends nothing.
    """

    __slots__ = ("_outbox", "identity")

    def __init__(self, identity: ClientIdentity) -> None:
        self.identity = identity
        self._outbox: list[tuple[str, str]] = []

    @property
    def client_id(self) -> str:
        """The id of the client the event comes from."""
        return self.identity.client_id

    @property
    def user_id(self) -> str | None:
        """The primary key of the logged-in user, as a string, or None."""
        return self.identity.user_id

    def reply(self, data: JSON) -> None:
        """Send ``data`` to the client the event comes from."""
        self._outbox.append((self.identity.channel, encode(data)))

    def send(self, client_id: str, data: JSON) -> None:
        """Send ``data`` to any client, by id.

        Raises:
            ValueError: ``client_id`` is not a client id.
        """
        if not CLIENT_ID.fullmatch(client_id):
            raise ValueError(f"not a client id: {client_id!r}")
        self._outbox.append((private_channel(client_id), encode(data)))

    def take_outbox(self) -> list[tuple[str, str]]:
        """Hand over (and forget) the ``(channel, payload)`` pairs sent so far."""
        outbox, self._outbox = self._outbox, []
        return outbox


def encode(data: JSON) -> str:
    """Encode a handler's data as compact JSON, with a clear error when it can't be."""
    try:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise HandlerOutputError(f"cannot send {type(data).__name__}: {exc}") from exc
