"""The in-memory push backend: the embedded default, for one server process.

Positions are ``<epoch>-<sequence>``. The epoch is random per channel log, so a cursor
from before a restart (or from a log that expired) is recognised as lost history and the
client gets a reset instead of a silent gap.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import itertools
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager

from django.conf import settings
from django.core import checks
from django.core.checks import CheckMessage

from thywill.push.base import BasePushBackend, ReadResult, StoredMessage
from thywill.push.locks import KeyedLocks

_Waiter = asyncio.Future[None]


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
    waiters: set[_Waiter] = dataclasses.field(default_factory=set)
    touched: float = 0.0


class LocMemPushBackend(BasePushBackend):
    """Channels kept in this process's memory; nothing survives a restart.

    Safe to call from several event loops and threads of one process (Django's test
    client and ``async_to_sync`` create their own loops).
    """

    shared = False

    def __init__(self, *, capacity: int = 1000, max_age: float = 3600.0) -> None:
        super().__init__(capacity=capacity, max_age=max_age)
        self._logs: dict[str, _Log] = {}
        self._sequences: dict[str, tuple[int, float]] = {}
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
            return self._sequences.get(client_id, (0, 0.0))[0]

    async def publish_sequenced(
        self, client_id: str, seq: int, entries: Sequence[tuple[str, str]]
    ) -> list[str] | None:
        for channel, _ in entries:
            self.validate_channel(channel)
        with self._lock:
            if seq <= self._sequences.get(client_id, (0, 0.0))[0]:
                return None
            self._sequences[client_id] = (seq, time.monotonic())
            positions, waiters = self._append(entries)
        _wake_all(waiters)
        return positions

    def client_lock(self, client_id: str) -> AbstractAsyncContextManager[None]:
        return self._client_locks.hold(client_id)

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

    def _append(self, entries: Sequence[tuple[str, str]]) -> tuple[list[str], set[_Waiter]]:
        """Append entries (the caller holds the lock); return positions and waiters."""
        now = time.monotonic()
        positions = []
        waiters: set[_Waiter] = set()
        for channel, payload in entries:
            log = self._log(channel, now)
            log.head += 1
            position = f"{log.epoch}-{log.head}"
            log.entries.append(
                _Entry(log.head, now, StoredMessage(channel, position, payload))
            )
            if len(log.entries) > self.capacity:
                log.entries.popleft()
            waiters |= log.waiters
            log.waiters = set()
            positions.append(position)
        self._sweep(now)
        return positions, waiters

    async def read(self, channel: str, after: str | None, limit: int = 100) -> ReadResult:
        self.validate_channel(channel)
        now = time.monotonic()
        with self._lock:
            log = self._log(channel, now)
            self._trim(log, now)
            start, reset = self._start(log, after)
            # Entries hold consecutive seqs: the first wanted one is found by its offset.
            skip = max(0, start - log.entries[0].seq) if log.entries else 0
            selected = [
                e.message for e in itertools.islice(log.entries, skip, skip + limit)
            ]
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
        waiter: _Waiter = asyncio.get_running_loop().create_future()
        now = time.monotonic()
        logs = []
        with self._lock:
            for channel, after in positions.items():
                log = self._log(channel, now)
                if self._has_news(log, after):
                    return True
                logs.append(log)
            for log in logs:
                log.waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return False
        finally:
            with self._lock:
                for log in logs:
                    log.waiters.discard(waiter)
        return True

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
        log = self._logs.get(channel)
        if log is None:
            log = _Log(secrets.token_hex(4), collections.deque())
            self._logs[channel] = log
        log.touched = now
        return log

    def _trim(self, log: _Log, now: float) -> None:
        horizon = now - self.max_age
        while log.entries and log.entries[0].time < horizon:
            log.entries.popleft()

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
        """Forget idle channel logs and send sequences older than ``max_age``."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + min(self.max_age, 60.0)
        horizon = now - self.max_age
        for channel in [
            c for c, log in self._logs.items() if log.touched < horizon and not log.waiters
        ]:
            del self._logs[channel]
        for client_id in [c for c, (_, t) in self._sequences.items() if t < horizon]:
            del self._sequences[client_id]


def _wake_all(waiters: set[_Waiter]) -> None:
    for waiter in waiters:
        _wake(waiter)


def _wake(waiter: _Waiter) -> None:
    loop = waiter.get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if loop is running:
        if not waiter.done():
            waiter.set_result(None)
    elif not loop.is_closed():
        loop.call_soon_threadsafe(_resolve, waiter)


def _resolve(waiter: _Waiter) -> None:
    if not waiter.done():
        waiter.set_result(None)
