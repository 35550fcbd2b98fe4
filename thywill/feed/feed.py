"""Reading a client's channels after its cursor: the one read path of every transport."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping, Sequence

from thywill import metrics
from thywill.exceptions import ErrorCode, RejectedError
from thywill.feed.channels import is_shared
from thywill.feed.control import parse_control
from thywill.feed.cursor import Cursor
from thywill.feed.presence import Presence
from thywill.feed.sessions import check_session
from thywill.identity.tokens import ClientIdentity, token_expired
from thywill.push.base import BasePushBackend, StoredMessage

DISCONNECTED_REASON = "The server ended this client; load the page again."

FROM_START = ""
"""A cursor's position for a channel followed but not read yet: read from its oldest."""


@dataclasses.dataclass(frozen=True, slots=True)
class Batch:
    """Messages read for one client, and where its cursor stands after them."""

    messages: Sequence[StoredMessage]
    reset_channels: Sequence[str]
    cursor: Cursor

    def __bool__(self) -> bool:
        return bool(self.messages or self.reset_channels)


class ClientFeed:
    """The stream of messages for one client, resumable from a cursor.

    Transports create one per request (long-poll) or per connection (SSE, WebSocket),
    call ``next()`` and write what it returns; they never touch the push backend. The
    feed runs no application code: a client whose presence lease had lapsed is reported
    back through ``presence``. With its lease renewals, every ``presence.ttl / 3``, it
    checks that the client's browser session has not ended (a logout): a stream of a
    logged-out session ends within that time.

    The feed reads the client's private channel and the channels of its groups. On the
    first read it keeps the group positions of the cursor for the groups the client is
    still in; from then on, control entries on the private channel (written when the
    client joins or leaves a group) add a group channel from the join's position on, or
    drop it, so even a feed that is already waiting follows its client's groups. When
    the private channel's history was lost, so were those entries: the feed then reads
    every group the client is in, from its oldest retained message, with a reset.

    Args:
        push: where the client's channels are.
        presence: keeps the client's lease alive while the feed reads and waits.
        identity: the client.
        cursor: where to resume.
        limit: the most messages read from one channel at a time.
    """

    def __init__(
        self,
        push: BasePushBackend,
        presence: Presence,
        identity: ClientIdentity,
        cursor: Cursor,
        *,
        limit: int = 100,
    ) -> None:
        self.push = push
        self.presence = presence
        self.identity = identity
        self.limit = limit
        self.channels = [identity.channel]
        self.cursor = cursor.restricted(
            [identity.channel, *(c for c in cursor if is_shared(c))]
        )
        self._started = False
        self._session_due = 0.0
        """When (``time.monotonic()``) the session is to be checked again."""

    async def check_session(self) -> None:
        """Check now that the client's browser session has not ended.

        Raises:
            RejectedError: ``session_ended``.
            PushUnavailableError: the push backend cannot be reached.
        """
        await check_session(self.push, self.identity)
        self._session_due = time.monotonic() + self.presence.ttl / 3

    @property
    def session_due(self) -> float:
        """When (``time.monotonic()``) the session is to be checked again."""
        return self._session_due

    def expire_within(self, timeout: float) -> float:
        """``timeout``, shortened to the seconds left before the client's token expires:
        an open stream ends when its token expires, as a new request would fail.

        Raises:
            RejectedError: ``token_expired``, the token has expired.
        """
        expires_at = self.identity.expires_at
        if expires_at is None:
            return timeout
        left = expires_at - time.time()
        if left <= 0:
            raise token_expired()
        return min(timeout, left)

    async def keep_alive(self) -> None:
        """Check the session when due, then renew the client's lease when due.

        Raises:
            RejectedError: ``session_ended``.
            PushUnavailableError: the push backend cannot be reached.
        """
        if time.monotonic() >= self._session_due:
            await self.check_session()
        await self.presence.keep_alive(self.identity)

    def wait_positions(self) -> dict[str, str | None]:
        """What to wait on for this client: each channel it follows, to the position
        after which it has not read yet (``None``: from its oldest message)."""
        return {channel: _after(self.cursor, channel) for channel in self.channels}

    async def start(self) -> None:
        """Follow the groups of the cursor the client is still a member of, once (the
        first read does it).

        Raises:
            PushUnavailableError: the push backend cannot be reached.
        """
        if self._started:
            return
        memberships = set(await self.push.memberships(self.identity.client_id))
        channels = self.channels + [c for c in self.cursor if c in memberships]
        self.channels, self.cursor = channels, self.cursor.restricted(channels)
        self._started = True

    async def read(self) -> Batch:
        """Read what is there after the cursor, without waiting, and advance it.

        All or nothing: a read cut short (cancelled, or failed) leaves the channels and
        the cursor as they were, so reading again reads the same messages.
        """
        await self.start()
        messages: list[StoredMessage] = []
        resets: list[str] = []
        channels = list(self.channels)
        positions = self.cursor.positions()
        private = self.identity.channel
        result = await self.push.read(private, _after(positions, private), self.limit)
        if result.reset:
            resets.append(private)
            for channel in await self.push.memberships(self.identity.client_id):
                # (a client is also a member of per-user presence's sets: not channels)
                if is_shared(channel) and channel not in channels:
                    channels.append(channel)
                    positions.pop(channel, None)
                    resets.append(channel)
            for _ in resets:  # the private channel, and the groups read anew with it
                metrics.reset("private_history_lost")
        for message in result.messages:
            control = parse_control(message.payload)
            if control is None:
                messages.append(message)
            elif control.action == "subscribe" and control.channel not in channels:
                channels.append(control.channel)
                if control.after is not None:
                    positions[control.channel] = control.after
            elif control.action == "unsubscribe" and control.channel in channels:
                channels.remove(control.channel)
                positions.pop(control.channel, None)
            elif control.action == "end":
                # The cursor never passes the end: a reconnect is refused the same way.
                raise RejectedError(ErrorCode.DISCONNECTED, DISCONNECTED_REASON)
        _advance(positions, private, result.position)
        for channel in channels[1:]:
            result = await self.push.read(channel, _after(positions, channel), self.limit)
            if result.reset and channel not in resets:
                resets.append(channel)
                metrics.reset("group_history_lost")
            messages.extend(result.messages)
            _advance(positions, channel, result.position)
            # A group joined while it was empty has no position yet: the cursor still
            # names it, so a feed built from the cursor (the next long-poll) reads it.
            positions.setdefault(channel, FROM_START)
        self.channels, self.cursor = channels, Cursor(positions)
        return Batch(messages, resets, self.cursor)

    async def next(self, timeout: float) -> Batch:
        """Read after the cursor; when nothing is there, wait up to ``timeout`` seconds.

        Also keeps the client's presence lease alive, renewing it (when due) before
        reading and while waiting, so a connected client's lease never lapses; and
        checks, as often, that the client's browser session has not ended.

        Raises:
            RejectedError: ``token_expired`` once the identity's token has expired;
                ``disconnected`` once the server ended the client; ``session_ended``
                once its browser session ended.
            PushUnavailableError: the push backend cannot be reached.
        """
        timeout = self.expire_within(timeout)
        await self.keep_alive()
        await self.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        renew_every = self.presence.ttl / 3
        while True:
            # Wake up when the session check is due, so a stream ends within ttl / 3 of
            # its session's end (the lease renewals are due no sooner).
            until_check = max(self._session_due - time.monotonic(), 0.0)
            wait = max(min(deadline - loop.time(), renew_every, until_check), 0.0)
            # wait() first says whether anything came after the cursor (a lost position
            # counts): a cheaper question than a read, which, right after a delivery or
            # at the start of a long-poll, mostly finds nothing.
            if await self.push.wait(self.wait_positions(), wait):
                # A wake-up may bring only control entries (a group joined): then the
                # batch is empty and waiting goes on, on the new channels too.
                batch = await self.read()
                if batch:
                    return batch
            if loop.time() >= deadline:
                return Batch((), (), self.cursor)
            await self.keep_alive()


def _after(positions: Mapping[str, str], channel: str) -> str | None:
    """The position to read ``channel`` after: ``None`` (from its oldest message) when
    the cursor has none, or names it with FROM_START."""
    return positions.get(channel) or None


def _advance(positions: dict[str, str], channel: str, position: str | None) -> None:
    if position is None:
        positions.pop(channel, None)
    else:
        positions[channel] = position
