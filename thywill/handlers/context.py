"""The context handed to application handlers: replies, sends and groups."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

from asgiref.sync import async_to_sync

from thywill.exceptions import HandlerOutputError
from thywill.feed.channels import GROUP_CHANNEL_PREFIX, group_channel, group_name
from thywill.identity.tokens import CLIENT_ID, ClientIdentity, private_channel
from thywill.types import JSON


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """A membership change staged by a flow: ``action`` is ``join`` or ``leave``."""

    action: str
    channel: str
    client_id: str
    announce: bool = True
    """Whether members get a ``thywill.join``/``thywill.leave`` message."""


@dataclasses.dataclass(frozen=True, slots=True)
class Queued:
    """A join, leave or group message a handler asked for, to run as its own event."""

    kind: str
    group: str
    member: str | None = None
    data: JSON = None


@dataclasses.dataclass(slots=True)
class Outbox:
    """What a flow will release if it succeeds: membership changes, then messages."""

    changes: list[Change] = dataclasses.field(default_factory=list)
    messages: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def _unchanged(data: JSON) -> JSON:
    return data


class Context:
    """One event as an application handler sees it, and the way to act from it.

    Nothing a handler does through the context happens at once: sends, joins and leaves
    are kept in an outbox and released only when the event's whole pipeline succeeded
    (and the handler's database transaction committed). A failed flow sends nothing.
    Joins, leaves and group messages also run through the pipeline as events of their
    own (``join``, ``leave``, ``group_message``) right after the handler returns.
    """

    __slots__ = ("_outbox", "_queued", "identity", "on_send")

    def __init__(
        self, identity: ClientIdentity, *, on_send: Callable[[JSON], JSON] | None = None
    ) -> None:
        self.identity = identity
        self.on_send = on_send or _unchanged
        self._outbox = Outbox()
        self._queued: list[Queued] = []

    @property
    def client_id(self) -> str:
        """The id of the client the event comes from."""
        return self.identity.client_id

    @property
    def user_id(self) -> str | None:
        """The primary key of the logged-in user, as a string, or None."""
        return self.identity.user_id

    @property
    def application(self) -> str:
        """The name of the application the client belongs to."""
        return self.identity.application

    def reply(self, data: JSON) -> None:
        """Send ``data`` to the client the event comes from."""
        self.stage_message(self.identity.channel, data)

    def send(self, client_id: str, data: JSON) -> None:
        """Send ``data`` to any client, by id.

        Raises:
            ValueError: ``client_id`` is not a client id.
        """
        self.stage_message(private_channel(_checked_client(client_id)), data)

    def join(self, group: str, client_id: str | None = None) -> None:
        """Make the client (or another client, by id) a member of one of this
        application's groups; joining a group creates it.

        Members receive a ``{"type": "thywill.join", "group", "clientId"}`` message on
        the group's channel; the joining client receives every group message sent after
        its join. Joining a group one is already in does nothing.

        Raises:
            ValueError: an invalid group name or client id.
        """
        group_channel(self.application, group)
        member = self.client_id if client_id is None else _checked_client(client_id)
        self._queued.append(Queued("join", group, member))

    def leave(self, group: str, client_id: str | None = None) -> None:
        """Remove the client (or another client) from a group; members get a
        ``thywill.leave`` message. Leaving a group one is not in does nothing.

        Raises:
            ValueError: an invalid group name or client id.
        """
        group_channel(self.application, group)
        member = self.client_id if client_id is None else _checked_client(client_id)
        self._queued.append(Queued("leave", group, member))

    def send_to_group(self, group: str, data: JSON) -> None:
        """Send ``data`` to every member of a group: written once, to the group channel.

        Raises:
            ValueError: an invalid group name.
        """
        group_channel(self.application, group)
        self._queued.append(Queued("group_message", group, data=data))

    async def amembers(self, group: str) -> list[str]:
        """The ids of a group's members now, sorted (changes of this flow not included)."""
        from thywill.wiring.components import components

        return await components.push.members(group_channel(self.application, group))

    def members(self, group: str) -> list[str]:
        """``amembers()`` for sync handlers (in async ones, ``await ctx.amembers()``)."""
        return async_to_sync(self.amembers)(group)

    async def agroups(self) -> list[str]:
        """The names of this application's groups the client is in now, sorted."""
        from thywill.wiring.components import components

        prefix = f"{GROUP_CHANNEL_PREFIX}{self.application}:"
        channels = await components.push.memberships(self.client_id)
        return [group_name(c) for c in channels if c.startswith(prefix)]

    def groups(self) -> list[str]:
        """``agroups()`` for sync handlers."""
        return async_to_sync(self.agroups)()

    # --- for the framework ------------------------------------------------------------

    def stage_message(self, channel: str, data: JSON) -> None:
        """Put ``data`` (through the flow's ``on_send`` transforms) in the outbox."""
        self._outbox.messages.append((channel, encode(self.on_send(data))))

    def stage_change(
        self, action: str, group: str, client_id: str, *, announce: bool = True
    ) -> None:
        """Put a membership change of one of this application's groups in the outbox."""
        channel = group_channel(self.application, group)
        self._outbox.changes.append(Change(action, channel, client_id, announce))

    def take_queued(self) -> list[Queued]:
        """Hand over (and forget) the joins, leaves and group messages asked for so far."""
        queued, self._queued = self._queued, []
        return queued

    def take_outbox(self) -> Outbox:
        """Hand over (and forget) what the flow staged so far."""
        outbox, self._outbox = self._outbox, Outbox()
        return outbox


def _checked_client(client_id: str) -> str:
    if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
        raise ValueError(f"not a client id: {client_id!r}")
    return client_id


def encode(data: JSON) -> str:
    """Encode a handler's data as compact JSON, with a clear error when it can't be."""
    try:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise HandlerOutputError(f"cannot send {type(data).__name__}: {exc}") from exc
