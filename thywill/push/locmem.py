"""The in-memory push backend: the embedded default, for one server process.

Positions are ``<epoch>-<sequence>``. The epoch is random per channel log, so a cursor
from before a restart (or from a log that expired) is recognised as lost history and the
client gets a reset instead of a silent gap.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import heapq
import itertools
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager

from django.conf import settings
from django.core import checks
from django.core.checks import CheckMessage

from thywill import metrics
from thywill.exceptions import SessionRevokedError
from thywill.push.base import BasePushBackend, ReadResult, StoredMessage
from thywill.push.locks import HeldKey, KeyedLocks
from thywill.push.sequences import SendSequences
from thywill.push.waiters import ChannelWaiters, Waiter, resolve, wait_for_news

PRIVATE_CHANNEL_PREFIX = "client:"
"""A client's private channel (``thywill.identity.tokens.private_channel``; the push
layer does not import identity)."""


@dataclasses.dataclass(slots=True)
class _Entry:
    seq: int
    time: float
    message: StoredMessage


@dataclasses.dataclass(slots=True)
class _Log:
    epoch: str
    entries: collections.deque[_Entry]
    head: int = 0
    """The sequence number of the newest message ever appended (0: none yet)."""
    touched: float = 0.0
    size: int = 0
    """The characters of JSON text its entries hold."""


class LocMemPushBackend(BasePushBackend):
    """Channels kept in this process's memory; nothing survives a restart.

    Safe to call from several event loops and threads of one process (Django's test
    client and ``async_to_sync`` create their own loops).

    Besides ``capacity`` messages and ``max_age`` seconds, two sizes bound what it holds,
    counted in characters of JSON text (bytes, for ASCII): ``max_bytes`` per channel
    and ``max_total_bytes`` for the whole process. A channel over its bound drops its
    oldest messages; a process over its bound drops the oldest messages of the channels
    written least recently, until it is under nine tenths of it. A reader whose
    position was dropped gets a reset, never a silent gap. The newest message of a
    channel is always kept, however large. When a client's disconnect event has run
    (``ack_lapsed``) and it holds no lease again, its private channel is dropped: a
    client that comes back after that gets a reset.

    Args:
        capacity, max_age: as for every push backend.
        max_bytes: the most a channel holds (default 4 MiB).
        max_total_bytes: the most every channel together holds (default 256 MiB).
    """

    shared = False

    def __init__(
        self,
        *,
        capacity: int = 1000,
        max_age: float = 3600.0,
        max_bytes: int = 4 * 1024 * 1024,
        max_total_bytes: int = 256 * 1024 * 1024,
    ) -> None:
        super().__init__(capacity=capacity, max_age=max_age)
        for name, value in (("max_bytes", max_bytes), ("max_total_bytes", max_total_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        self.max_bytes = max_bytes
        self.max_total_bytes = max_total_bytes
        self._size = 0
        self._logs: dict[str, _Log] = {}
        """A channel's log exists from its first message on: reading or waiting on a
        channel that has none costs nothing (every client's private channel, mostly)."""
        self._waiters = ChannelWaiters()
        self._sequences = SendSequences(self.max_age)
        self._client_locks = KeyedLocks()
        self._leases: dict[str, tuple[float, str]] = {}
        self._claims: dict[str, tuple[float, str]] = {}
        self._members: dict[str, set[str]] = {}
        self._memberships: dict[str, set[str]] = {}
        self._revoked: dict[str, float] = {}
        self._next_revoked_sweep = 0.0
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    async def publish_many(self, entries: Sequence[tuple[str, str]]) -> list[str]:
        for channel, _ in entries:
            self.validate_channel(channel)
        with self._lock:
            positions, waiters = self._append(entries)
        _wake_all(waiters)
        return positions

    async def last_sequence(self, client_id: str) -> int:
        with self._lock:
            return self._sequences.get(client_id)

    async def publish_sequenced(
        self,
        client_id: str,
        seq: int,
        entries: Sequence[tuple[str, str]],
        *,
        final: bool = False,
    ) -> list[str] | None:
        for channel, _ in entries:
            self.validate_channel(channel)
        with self._lock:
            if seq <= self._sequences.get(client_id):
                return None
            self._sequences.set(client_id, seq)
            positions, waiters = self._append(entries)
        _wake_all(waiters)
        return positions

    def client_lock(
        self, client_id: str, *, session: str | None = None
    ) -> AbstractAsyncContextManager[None]:
        return _ClientLock(self, client_id, session)

    async def renew_presence(self, client_id: str, data: str, ttl: float) -> bool:
        with self._lock:
            new = client_id not in self._leases
            self._leases[client_id] = (time.monotonic() + ttl, data)
        return new

    async def claim_lapsed(
        self, limit: int = 100, lease: float = 60.0
    ) -> list[tuple[str, str]]:
        now = time.monotonic()
        with self._lock:
            expired = [c for c, (until, _) in self._claims.items() if until <= now]
            lapsed = [c for c, (expiry, _) in self._leases.items() if expiry <= now]
            claimed = [(c, self._claims[c][1]) for c in expired[:limit]]
            claimed += [(c, self._leases.pop(c)[1]) for c in lapsed[: limit - len(claimed)]]
            for client_id, data in claimed:
                self._claims[client_id] = (now + lease, data)
            return claimed

    async def ack_lapsed(self, client_id: str) -> None:
        with self._lock:
            self._claims.pop(client_id, None)
            if client_id in self._leases:
                return  # it came back meanwhile
            # Gone: what it alone held goes too. Its send sequence stays (max_age), so a
            # send it retries after coming back is still answered "duplicate".
            private = PRIVATE_CHANNEL_PREFIX + client_id
            if private in self._logs and private not in self._waiters:
                self._drop(private)

    async def add_member(self, group: str, client_id: str) -> bool:
        self.validate_channel(group)
        with self._lock:
            members = self._members.setdefault(group, set())
            if client_id in members:
                return False
            members.add(client_id)
            self._memberships.setdefault(client_id, set()).add(group)
            return True

    async def remove_member(self, group: str, client_id: str) -> bool:
        self.validate_channel(group)
        with self._lock:
            members = self._members.get(group, set())
            if client_id not in members:
                return False
            members.discard(client_id)
            if not members:
                del self._members[group]
            groups = self._memberships[client_id]
            groups.discard(group)
            if not groups:
                del self._memberships[client_id]
            return True

    async def members(self, group: str) -> list[str]:
        self.validate_channel(group)
        with self._lock:
            return sorted(self._members.get(group, ()))

    async def memberships(self, client_id: str) -> list[str]:
        with self._lock:
            return sorted(self._memberships.get(client_id, ()))

    async def groups(
        self, prefix: str = "", *, after: str | None = None, limit: int = 100
    ) -> list[str]:
        self.validate_limit(limit)
        with self._lock:
            found = [
                group
                for group in self._members
                if group.startswith(prefix) and (after is None or group > after)
            ]
        return heapq.nsmallest(limit, found)

    async def count_groups(self, prefix: str = "") -> int:
        with self._lock:
            return sum(1 for group in self._members if group.startswith(prefix))

    async def present(self, client_ids: Sequence[str]) -> set[str]:
        now = time.monotonic()
        with self._lock:
            return {
                client_id
                for client_id in client_ids
                if self._leases.get(client_id, (0.0, ""))[0] > now
            }

    async def count_present(self) -> int:
        now = time.monotonic()
        with self._lock:
            return sum(1 for expiry, _ in self._leases.values() if expiry > now)

    async def revoke_session(self, session: str, ttl: float) -> None:
        now = time.monotonic()
        with self._lock:
            self._revoked[session] = now + ttl
            if now >= self._next_revoked_sweep:  # at most once a minute, forget lapsed ones
                self._next_revoked_sweep = now + 60.0
                for lapsed in [s for s, until in self._revoked.items() if until <= now]:
                    del self._revoked[lapsed]

    async def session_revoked(self, session: str) -> bool:
        with self._lock:
            until = self._revoked.get(session)
        return until is not None and until > time.monotonic()

    def _append(self, entries: Sequence[tuple[str, str]]) -> tuple[list[str], set[Waiter]]:
        """Append entries (the caller holds the lock); return positions and waiters."""
        now = time.monotonic()
        published_at = time.time()
        positions = []
        waiters: set[Waiter] = set()
        for channel, payload in entries:
            log = self._log(channel, now)
            log.head += 1
            position = f"{log.epoch}-{log.head}"
            log.entries.append(
                _Entry(
                    log.head, now, StoredMessage(channel, position, payload, published_at)
                )
            )
            log.size += len(payload)
            self._size += len(payload)
            while len(log.entries) > 1 and (
                len(log.entries) > self.capacity or log.size > self.max_bytes
            ):
                self._pop_oldest(log)
            waiters |= self._waiters.take(channel)
            positions.append(position)
        if self._size > self.max_total_bytes:
            self._shrink()
        self._sweep(now)
        metrics.buffered(self._size)
        return positions, waiters

    def _pop_oldest(self, log: _Log) -> None:
        size = len(log.entries.popleft().message.payload)
        log.size -= size
        self._size -= size

    def _drop(self, channel: str) -> None:
        """Forget a channel log (the caller holds the lock)."""
        log = self._logs.pop(channel)
        self._size -= log.size

    def _shrink(self) -> None:
        """Drop the oldest messages of the least recently written channels until the
        process holds under nine tenths of ``max_total_bytes``."""
        target = self.max_total_bytes * 9 // 10
        for log in sorted(self._logs.values(), key=lambda log: log.touched):
            while len(log.entries) > 1 and self._size > target:
                self._pop_oldest(log)
            if self._size <= target:
                return

    async def read(self, channel: str, after: str | None, limit: int = 100) -> ReadResult:
        self.validate_channel(channel)
        now = time.monotonic()
        with self._lock:
            log = self._logs.get(channel)
            if log is None:
                # Never written, or forgotten: a reader with a position lost it.
                return ReadResult((), None, after is not None)
            log.touched = now
            self._trim(log, now)
            start, reset = self._start(log, after)
            selected = _slice(log.entries, start, limit)
        if selected:
            return ReadResult(selected, selected[-1].position, reset)
        if reset or after is None:
            position = f"{log.epoch}-{log.head}" if log.head else None
            return ReadResult((), position, reset)
        return ReadResult((), after, False)

    async def newest_position(self, channel: str) -> str | None:
        self.validate_channel(channel)
        with self._lock:
            log = self._logs.get(channel)
            return f"{log.epoch}-{log.head}" if log is not None and log.head else None

    async def wait(self, positions: Mapping[str, str | None], timeout: float) -> bool:
        for channel in positions:
            self.validate_channel(channel)
        now = time.monotonic()
        with self._lock:
            for channel, after in positions.items():
                log = self._logs.get(channel)
                if log is None:
                    if after is not None:
                        return True  # the reader's position is lost: a reset is due
                    continue
                log.touched = now
                if self._has_news(log, after):
                    return True
            if timeout <= 0:
                return False
            waiter: Waiter = asyncio.get_running_loop().create_future()
            self._waiters.add(positions, waiter)
        try:
            return await wait_for_news(waiter, timeout)
        finally:
            with self._lock:
                self._waiters.discard(positions, waiter)

    def check(self) -> list[CheckMessage]:
        if settings.DEBUG:
            return []
        return [
            checks.Warning(
                "The in-memory push backend serves one process only and loses every "
                "message on restart.",
                hint="Run one server process, or a push backend shared by all of them.",
                id="thywill.W001",
            )
        ]

    def _log(self, channel: str, now: float) -> _Log:
        """The log of ``channel``, made at its first message."""
        log = self._logs.get(channel)
        if log is None:
            log = _Log(secrets.token_hex(4), collections.deque())
            self._logs[channel] = log
        log.touched = now
        return log

    def _trim(self, log: _Log, now: float) -> None:
        horizon = now - self.max_age
        if log.entries and log.entries[0].time < horizon:
            while log.entries and log.entries[0].time < horizon:
                self._pop_oldest(log)
            metrics.buffered(self._size)

    def _start(self, log: _Log, after: str | None) -> tuple[int, bool]:
        """The first sequence to return after ``after``, and whether history was lost."""
        oldest = log.entries[0].seq if log.entries else log.head + 1
        if after is None:
            return oldest, False
        seq = self._seq_of(log, after)
        if seq is None or seq > log.head or seq + 1 < oldest:
            return oldest, True
        return seq + 1, False

    def _has_news(self, log: _Log, after: str | None) -> bool:
        if after is None:
            return bool(log.entries)
        seq = self._seq_of(log, after)
        # A position from another epoch means a reset is due: the reader must come back.
        return seq is None or seq != log.head

    @staticmethod
    def _seq_of(log: _Log, position: str) -> int | None:
        epoch, _, seq = position.partition("-")
        if epoch != log.epoch or not (seq.isascii() and seq.isdigit()):
            return None
        return int(seq)

    def _sweep(self, now: float) -> None:
        """Forget idle channel logs, and the send sequences that are due."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + min(self.max_age, 60.0)
        horizon = now - self.max_age
        for channel in [
            c
            for c, log in self._logs.items()
            if log.touched < horizon and c not in self._waiters
        ]:
            self._drop(channel)
        self._sequences.expire()


def _slice(
    entries: collections.deque[_Entry], start: int, limit: int
) -> list[StoredMessage]:
    """The messages of at most ``limit`` entries from seq ``start`` on.

    Entries hold consecutive seqs, so the first wanted one is found by its offset. A
    deque is walked, not indexed: a reader that keeps up wants the newest few of up to
    ``capacity`` entries, which are found from the right end."""
    if not entries:
        return []
    skip = max(0, start - entries[0].seq)
    from_right = len(entries) - skip
    if from_right <= 0:
        return []
    if skip <= from_right:
        return [e.message for e in itertools.islice(entries, skip, skip + limit)]
    newest_first = [e.message for e in itertools.islice(reversed(entries), from_right)]
    newest_first.reverse()
    return newest_first[:limit]


class _ClientLock(HeldKey):
    """A client's lock, refused (released at once) when the session was revoked."""

    __slots__ = ("_backend", "_session")

    def __init__(
        self, backend: LocMemPushBackend, client_id: str, session: str | None
    ) -> None:
        super().__init__(backend._client_locks, client_id)
        self._backend = backend
        self._session = session

    async def __aenter__(self) -> None:
        await super().__aenter__()
        try:
            session = self._session
            if session is not None and await self._backend.session_revoked(session):
                raise SessionRevokedError("the session was revoked")
        except BaseException:
            await super().__aexit__(None, None, None)
            raise


def _wake_all(waiters: set[Waiter]) -> None:
    for waiter in waiters:
        _wake(waiter)


def _wake(waiter: Waiter) -> None:
    loop = waiter.get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if loop is running:
        resolve(waiter, True)
    elif not loop.is_closed():
        loop.call_soon_threadsafe(resolve, waiter, True)
