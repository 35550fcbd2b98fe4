"""The outbox: what an event releases if its whole flow succeeds.

A handler (or a pipe) acts through its ``Context``; nothing happens at once. Replies and
sends wait here as messages; joins, leaves and group messages wait as requests, which the
event runner takes and runs as events of their own (``join``, ``leave``,
``group_message``) through their flows, whose cores put membership changes and group
messages here in turn. The runner releases the outbox once the whole flow succeeded
(``thywill.events.release``); a failed flow releases nothing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

from thywill.exceptions import HandlerOutputError
from thywill.types import JSON


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """A membership change: ``action`` is ``join`` or ``leave``."""

    action: str
    channel: str
    client_id: str
    announce: bool = True
    """Whether members get a ``thywill.join``/``thywill.leave`` message."""
    per_user: bool = False
    """Whether that message is about the client's user (joined with the user's first
    client, left with the last) rather than the client; clients of no user are
    announced as clients."""


@dataclasses.dataclass(frozen=True, slots=True)
class Request:
    """A join, leave or group message a handler asked for, to run as an event of its own."""

    kind: str
    group: str
    member: str | None = None
    data: JSON = None


def _unchanged(data: JSON) -> JSON:
    return data


class Outbox:
    """What one event will release: membership changes first, then messages.

    Args:
        on_send: the flow's ``on_send`` transforms, applied to every message's data.
    """

    __slots__ = ("changes", "messages", "on_send", "requests")

    def __init__(self, on_send: Callable[[JSON], JSON] | None = None) -> None:
        self.on_send = on_send or _unchanged
        self.changes: list[Change] = []
        self.messages: list[tuple[str, str]] = []
        self.requests: list[Request] = []

    def add_message(self, channel: str, data: JSON) -> None:
        """A message for ``channel``: ``data`` through the ``on_send`` transforms."""
        self.messages.append((channel, encode(self.on_send(data))))

    def take_requests(self) -> list[Request]:
        """Hand over (and forget) the requests made so far."""
        requests, self.requests = self.requests, []
        return requests


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
"""One encoder for every message: ``json.dumps`` with options makes one per call."""


def encode(data: JSON) -> str:
    """Encode a handler's data as compact JSON, with a clear error when it can't be.

    What is stored must be deliverable: text UTF-8 cannot carry (a lone surrogate) is
    refused here, for the event that made it, rather than failing every delivery of the
    channel later.
    """
    try:
        text = _ENCODER.encode(data)
        text.encode()
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise HandlerOutputError(f"cannot send {type(data).__name__}: {exc}") from exc
    return text
