"""Reading the channels of several clients on one connection (a shared connection).

Tabs of one browser may share one transport connection: one tab holds it and relays to
the others. The connection then carries several clients, each with its own identity,
cursor, lease and session check, exactly as a connection of its own would: a
``SharedFeed`` holds their ``ClientFeed``s and waits on all of them at once, with one
``push.wait()`` over the union of their channels.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from thywill.exceptions import RejectedError
from thywill.feed.feed import Batch, ClientFeed
from thywill.push.base import BasePushBackend

Ready = list[tuple[int, Batch]]
"""The clients that have something: (their index, their batch), in index order."""


class SharedFeed:
    """The feeds of several clients read and waited on together.

    Every refusal of one client (its token expired, the server ended it, its session
    ended) is raised as that client's ``RejectedError`` with its ``index`` set: the
    position of its feed in ``feeds``, so the caller can say which client it was.

    Args:
        push: where the clients' channels are (the push backend of their feeds).
        feeds: one feed per client, in the order of the connection's tokens.
    """

    def __init__(self, push: BasePushBackend, feeds: Sequence[ClientFeed]) -> None:
        self.push = push
        self.feeds = tuple(feeds)

    async def check_sessions(self) -> None:
        """Check now that no client's browser session has ended.

        Raises:
            RejectedError: ``session_ended``, with the client's index.
            PushUnavailableError: the push backend cannot be reached.
        """
        await self._each(ClientFeed.check_session)

    async def _each(self, step: Callable[[ClientFeed], Awaitable[None]]) -> None:
        """Run ``step`` on each feed; a refusal is raised with its client's index."""
        for index, feed in enumerate(self.feeds):
            try:
                await step(feed)
            except RejectedError as error:
                raise error.at(index) from None

    async def read(self) -> Ready:
        """Read what is there for every client, without waiting, and advance each
        cursor (also when it got nothing); return the clients that got something.

        All or nothing, as ``ClientFeed.read``: a read cut short (a drain cancels the
        wait of a long-poll, which then answers every cursor) leaves every client's
        cursor as it was, not the first clients' past batches that were never sent.

        Raises:
            RejectedError: ``disconnected``, with the client's index.
            PushUnavailableError: the push backend cannot be reached.
        """
        await self._each(ClientFeed.start)
        before = [(feed.channels, feed.cursor) for feed in self.feeds]
        ready: Ready = []
        try:
            for index, feed in enumerate(self.feeds):
                try:
                    batch = await feed.read()
                except RejectedError as error:
                    raise error.at(index) from None
                if batch:
                    ready.append((index, batch))
        except BaseException:
            for feed, (channels, cursor) in zip(self.feeds, before, strict=True):
                feed.channels, feed.cursor = channels, cursor
            raise
        return ready

    async def keep_alive(self) -> None:
        """Check each client's session when due and renew its lease when due.

        Raises:
            RejectedError: ``session_ended``, with the client's index.
            PushUnavailableError: the push backend cannot be reached.
        """
        await self._each(ClientFeed.keep_alive)

    def expire_within(self, timeout: float) -> float:
        """``timeout``, shortened to the first expiry of a client's token.

        Raises:
            RejectedError: ``token_expired``, with the client's index.
        """
        for index, feed in enumerate(self.feeds):
            try:
                timeout = feed.expire_within(timeout)
            except RejectedError as error:
                raise error.at(index) from None
        return timeout

    async def next(self, timeout: float) -> Ready:
        """Read after every client's cursor; when none has anything, wait up to
        ``timeout`` seconds for any of them, as ``ClientFeed.next`` does for one: each
        client's lease is renewed and its session checked while waiting.

        Returns:
            The clients that have something (a message or a reset), in index order;
            empty at the timeout. Every cursor has moved past what was read.

        Raises:
            RejectedError: with the index of the client refused: ``token_expired``,
                ``disconnected`` or ``session_ended``.
            PushUnavailableError: the push backend cannot be reached.
        """
        timeout = self.expire_within(timeout)
        await self.keep_alive()
        ready = await self.read()
        if ready:
            return ready
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        renew_every = min(feed.presence.ttl for feed in self.feeds) / 3
        while (remaining := deadline - loop.time()) > 0:
            positions: dict[str, str | None] = {}
            for feed in self.feeds:
                # Two clients of one group may stand at different positions in it:
                # either will do, since each read up to the end before waiting.
                positions.update(feed.wait_positions())
            session_due = min(feed.session_due for feed in self.feeds)
            until_check = max(session_due - time.monotonic(), 0.0)
            if await self.push.wait(positions, min(remaining, renew_every, until_check)):
                ready = await self.read()
                if ready:
                    return ready
            await self.keep_alive()
        return ready


async def next_of_one(feed: ClientFeed, timeout: float) -> Ready:
    """``feed.next`` in the shape of ``SharedFeed.next``, so that one loop writes a
    single client's stream and a shared one: the client, as index 0, when it has
    something; nothing at the timeout."""
    batch = await feed.next(timeout)
    return [(0, batch)] if batch else []
