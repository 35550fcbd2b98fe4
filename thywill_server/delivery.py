"""Reading a client's channels after its cursor: the one read path of every transport."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

from thywill_server import conf
from thywill_server.cursor import Cursor
from thywill_server.identity.tokens import ClientIdentity
from thywill_server.presence import presence
from thywill_server.push.base import BasePushBackend, StoredMessage


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
    call ``next()`` and write what it returns; they never touch the push backend.
    """

    def __init__(
        self,
        push: BasePushBackend,
        identity: ClientIdentity,
        cursor: Cursor,
        *,
        limit: int = 100,
    ) -> None:
        self.push = push
        self.identity = identity
        self.limit = limit
        self.channels = [identity.channel]
        self.cursor = cursor.restricted(self.channels)

    async def read(self) -> Batch:
        """Read what is there after the cursor, without waiting, and advance it."""
        messages: list[StoredMessage] = []
        resets: list[str] = []
        positions = dict(self.cursor)
        for channel in self.channels:
            result = await self.push.read(channel, positions.get(channel), self.limit)
            if result.reset:
                resets.append(channel)
            messages.extend(result.messages)
            if result.position is None:
                positions.pop(channel, None)
            else:
                positions[channel] = result.position
        self.cursor = Cursor(positions)
        return Batch(messages, resets, self.cursor)

    async def next(self, timeout: float) -> Batch:
        """Read after the cursor; when nothing is there, wait up to ``timeout`` seconds.

        Also keeps the client's presence lease alive, renewing it (when due) before
        reading and while waiting, so a connected client's lease never lapses.
        """
        await presence.keep_alive(self.identity)
        batch = await self.read()
        if batch:
            return batch
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        renew_every = conf.get_limits().presence_ttl / 3
        while (remaining := deadline - loop.time()) > 0:
            positions = {channel: self.cursor.get(channel) for channel in self.channels}
            if await self.push.wait(positions, min(remaining, renew_every)):
                return await self.read()
            await presence.keep_alive(self.identity)
        return batch
