"""The Redis push backend: any number of server processes on any number of machines.

Every channel is a Redis stream bounded by length and age, with a small hash that holds
its epoch; positions are ``<epoch>-<stream id>``. Publishing is one Lua script per call
(append, record the sender's sequence and release its lock, announce each message), so it
is atomic and costs one round trip. Each process keeps one pub/sub subscription per event
loop: an announcement carries the message (up to ``announce_limit`` bytes), which the
process keeps for its readers of that channel (``tails.py``), and wakes only its own
waiters of that channel. A reader that was woken reads what the announcement carried, and
a reader with nothing new learns it, without a round trip: no connection per waiting
client, no polling, and no read per delivery. The scripts and key layout are in
``redis_scripts.py``.

Requires Redis 6.2 or newer (exclusive XRANGE starts, ``SET ... PX`` in scripts).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import math
import secrets
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
import redis.exceptions
from django.core import checks
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.core.checks import CheckMessage
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from thywill import metrics
from thywill.exceptions import PushUnavailableError, SessionRevokedError
from thywill.push import redis_scripts as lua
from thywill.push.base import BasePushBackend, ReadResult, StoredMessage
from thywill.push.locks import KeyedLocks
from thywill.push.outage import OutageTracker
from thywill.push.redis_batch import CommandBatch
from thywill.push.redis_watchdog import SubscriptionWatchdog
from thywill.push.tails import Announced, ChannelTails
from thywill.push.waiters import ChannelWaiters, Waiter, wait_for_news

T = TypeVar("T")


@dataclasses.dataclass
class _HeldLock:
    """A client lock this task holds, and the client's last sequence as of now."""

    client_id: str
    last_sequence: int
    holder: asyncio.Task[Any] | None
    token: str
    released: bool = False
    """Whether a ``publish_sequenced(..., final=True)`` released it already."""

    def answers_for(self, client_id: str) -> bool:
        """Whether this is ``client_id``'s lock, held by the running task (tasks it
        started inherit the context variable, not the lock)."""
        return self.client_id == client_id and self.holder is asyncio.current_task()


# Taking a client's lock also reads its last sequence, in the same round trip; while the
# lock is held nobody else records one, so last_sequence() answers from here.
_held_lock: contextvars.ContextVar[_HeldLock | None] = contextvars.ContextVar(
    "thywill_redis_held_lock", default=None
)

# What counts as "Redis cannot serve us now" (503, retried by the client), as opposed to
# a bug (any other ResponseError). OutOfMemoryError: maxmemory reached with noeviction.
UNAVAILABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.MasterDownError,
    redis.exceptions.TryAgainError,
    redis.exceptions.OutOfMemoryError,
    OSError,
)
KEY_PREFIX_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-"
)


class _LoopState:
    """The connections and waiters of one event loop (redis-py's belong to one loop)."""

    def __init__(
        self, client: aioredis.Redis, scripts: dict[str, Any], batch: CommandBatch
    ) -> None:
        self.client = client
        self.scripts = scripts
        self.batch = batch
        self.waiters = ChannelWaiters()
        self.tails = ChannelTails()
        self.subscribed = asyncio.Event()
        # Set by a waiter that needs the subscription: ends the listener's backoff early.
        self.needed = asyncio.Event()
        self.listener: asyncio.Task[None] | None = None


class RedisPushBackend(BasePushBackend):
    """Channels, sequences, locks and presence leases in Redis, shared by every process.

    Args:
        url: ``redis://`` or ``rediss://`` (TLS) URL; query parameters are redis-py's
            connection options (for example ``?ssl_cert_reqs=required``).
        key_prefix: the start of every key. It is also the Redis Cluster hash tag
            (``{prefix}``), so every key of a site lives in one slot.
        capacity: how many messages a channel keeps at most (exactly).
        max_age: how many seconds a message is kept at most.
        sequence_ttl: how many seconds a client's send sequence is kept after its last
            send (at least ``max_age``); a resend later than that is handled again.
        lock_lease: seconds a client's send lock lasts unless its holder renews it; it
            bounds how long a client's sends stall after its server process died.
        max_connections: the size of each event loop's connection pool.
        socket_timeout: seconds to wait for a reply before the operation fails with 503.
        socket_connect_timeout: seconds to wait for a connection.
        health_check_interval: seconds of idleness after which a pooled connection is
            checked before use. The wake-up subscription is pinged when quiet for that
            long or 5 s, whichever is shorter, and reconnected after three such
            intervals of silence.
        announce_limit: the largest payload, in bytes, that a message's announcement
            carries to every process (larger ones are read from Redis by the readers
            that need them); 0 announces no payload.
        connection_options: any other keyword arguments for redis-py's connection pool.
    """

    def __init__(
        self,
        *,
        url: str = "redis://127.0.0.1:6379/0",
        key_prefix: str = "thywill",
        capacity: int = 1000,
        max_age: float = 3600.0,
        sequence_ttl: float = 86400.0,
        lock_lease: float = 30.0,
        max_connections: int = 100,
        socket_timeout: float = 5.0,
        socket_connect_timeout: float = 2.0,
        health_check_interval: float = 15.0,
        announce_limit: int = 64 * 1024,
        connection_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(capacity=capacity, max_age=max_age)
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                f"url must be a redis://, rediss:// or unix:// URL, not {url!r}"
            )
        if not key_prefix or not set(key_prefix) <= KEY_PREFIX_CHARS:
            raise ValueError(
                f"key_prefix must be letters, digits and _ . : -, not {key_prefix!r}"
            )
        for name, value in (
            ("sequence_ttl", sequence_ttl),
            ("lock_lease", lock_lease),
            ("socket_timeout", socket_timeout),
            ("socket_connect_timeout", socket_connect_timeout),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{name} must be a positive number, not {value!r}")
        if (
            isinstance(announce_limit, bool)
            or not isinstance(announce_limit, int)
            or announce_limit < 0
        ):
            raise ValueError(
                "announce_limit must be a number of bytes (0 or more), "
                f"not {announce_limit!r}"
            )
        self.url = url
        self.key_prefix = key_prefix
        self.announce_limit = announce_limit
        self.sequence_ttl = max(float(sequence_ttl), self.max_age)
        self.lock_lease = float(lock_lease)
        self._pool_options: dict[str, Any] = {
            "max_connections": max_connections,
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": socket_connect_timeout,
            "health_check_interval": health_check_interval,
            # No silent retries: a command that may have run must not run twice
            # (publish_many is not idempotent); the client retries the whole request.
            "retry": Retry(NoBackoff(), 0),
            **(connection_options or {}),
        }
        self._ping_every = min(5.0, max(1.0, float(health_check_interval)))
        self._tag = "{" + key_prefix + "}"
        self._wake_channel = f"{self._tag}:announce"
        # Where releases before the announcements published bare wake-ups (a channel
        # name, no message): heard during a rolling upgrade (see _listen).
        self._legacy_wake_channel = f"{self._tag}:wake"
        self._leases_key = f"{self._tag}:presence"
        self._lease_data_key = f"{self._tag}:presence:data"
        self._claims_key = f"{self._tag}:presence:claims"
        self._groups_key = f"{self._tag}:groups"
        # Channel metadata outlives the stream, so a reader that saw everything before a
        # long silence reads on without a needless reset.
        self._meta_ttl_ms = int(max(2 * self.max_age, 86400.0) * 1000)
        self._stream_ttl_ms = int(self.max_age * 1000) + 1000
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState]
        self._states = weakref.WeakKeyDictionary()
        # The loop of the last _state() and its state: every operation asks, and the
        # weak dictionary's lookup makes a weak reference each time.
        self._recent: tuple[weakref.ref[asyncio.AbstractEventLoop], _LoopState] | None
        self._recent = None
        self._local_locks = KeyedLocks()
        self.outage = OutageTracker("Redis")

    # --- keys --------------------------------------------------------------------------

    def shared_cache(self) -> BaseCache:
        """Django's Redis cache on this Redis, under ``<key_prefix>:shared``: the hook
        scripts' ``shared`` state is then every process's without a cache of its own."""
        return RedisCache(
            self.url,
            {
                "KEY_PREFIX": f"{self.key_prefix}:shared",
                "TIMEOUT": None,
                "OPTIONS": {
                    name: self._pool_options[name]
                    for name in ("socket_timeout", "socket_connect_timeout")
                },
            },
        )

    def _channel_keys(self, channel: str) -> tuple[str, str]:
        return f"{self._tag}:m:{channel}", f"{self._tag}:s:{channel}"

    def _sequence_key(self, client_id: str) -> str:
        return f"{self._tag}:q:{client_id}"

    def _lock_key(self, client_id: str) -> str:
        return f"{self._tag}:k:{client_id}"

    def _revoked_key(self, session: str) -> str:
        return f"{self._tag}:r:{session}"

    # --- connections -------------------------------------------------------------------

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        recent = self._recent
        if recent is not None and recent[0]() is loop:
            return recent[1]
        state = self._states.get(loop)
        if state is None:
            # A blocking pool makes a burst of requests queue for a connection (up to
            # socket_timeout) instead of failing once max_connections are busy.
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url, timeout=self._pool_options["socket_timeout"], **self._pool_options
            )
            client = aioredis.Redis(connection_pool=pool)
            scripts = {
                name: client.register_script(getattr(lua, name))
                for name in (
                    "PUBLISH_MANY",
                    "PUBLISH_SEQUENCED",
                    "READ",
                    "HAS_NEWS",
                    "ACQUIRE_LOCK",
                    "RENEW_LOCK",
                    "RELEASE_LOCK",
                    "RENEW_PRESENCE",
                    "CLAIM_LAPSED",
                    "ACK_LAPSED",
                    "ADD_MEMBER",
                    "REMOVE_MEMBER",
                    "PRESENT",
                    "COUNT_PRESENT",
                )
            }
            batch = CommandBatch(
                client, scripts, self._call, self._pool_options["socket_timeout"]
            )
            state = _LoopState(client, scripts, batch)
            self._states[loop] = state
        self._recent = weakref.ref(loop), state
        return state

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run one Redis operation, turning connection failures into outage episodes."""
        started = metrics.clock()
        try:
            result = await operation()
        except UNAVAILABLE as exc:
            raise self.outage.failed(exc) from exc
        metrics.round_trip(self.outage.label, started)
        downtime = self.outage.succeeded()
        if downtime is not None:
            self.log.recovered(backend=self.outage.backend, downtime=downtime)
        return result

    async def _script(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run a script, in one pipeline with the others called in the same turn."""
        return await self._state().batch.call(name, keys, args)

    async def _command(self, *words: str | bytes | int) -> Any:
        """Send a command, in one pipeline with the others sent in the same turn."""
        return await self._state().batch.command(*words)

    # --- publish and read --------------------------------------------------------------

    def _append_arguments(
        self, entries: Sequence[tuple[str, str]]
    ) -> tuple[list[str], list[str | int]]:
        keys: list[str] = []
        args: list[str | int] = [
            self._wake_channel,
            secrets.token_hex(4),
            self.capacity,
            self._meta_ttl_ms,
            self._stream_ttl_ms,
            self.announce_limit,
        ]
        for channel, payload in entries:
            self.validate_channel(channel)
            keys.extend(self._channel_keys(channel))
            args.extend((channel, payload))
        return keys, args

    async def publish_many(self, entries: Sequence[tuple[str, str]]) -> list[str]:
        keys, args = self._append_arguments(entries)
        if not entries:
            return []
        generation = self._state().tails.generation
        reply = await self._script("PUBLISH_MANY", keys, args)
        return self._published(entries, reply, generation)

    def _published(
        self, entries: Sequence[tuple[str, str]], reply: list[Any], generation: int
    ) -> list[str]:
        """The positions a publish script returned; this process's own readers learn the
        messages at once (their announcements may come later)."""
        tails = self._state().tails
        positions = []
        for (channel, payload), i in zip(entries, range(0, len(reply), 2), strict=True):
            position = _text(reply[i])
            epoch, _, entry_id = position.partition("-")
            previous = _text(reply[i + 1])
            tails.learn(Announced(channel, epoch, previous, entry_id, payload), generation)
            positions.append(position)
        return positions

    async def last_sequence(self, client_id: str) -> int:
        held = _held_lock.get()
        if held is not None and held.answers_for(client_id):
            return held.last_sequence
        value = await self._command("GET", self._sequence_key(client_id))
        return int(value or 0)

    async def publish_sequenced(
        self,
        client_id: str,
        seq: int,
        entries: Sequence[tuple[str, str]],
        *,
        final: bool = False,
    ) -> list[str] | None:
        keys, args = self._append_arguments(entries)
        held = _held_lock.get()
        if held is None or not held.answers_for(client_id) or held.released:
            held = None
        token = held.token if held is not None and final else ""
        generation = self._state().tails.generation
        reply = await self._script(
            "PUBLISH_SEQUENCED",
            [self._sequence_key(client_id), self._lock_key(client_id), *keys],
            [seq, int(self.sequence_ttl * 1000), token, *args],
        )
        if held is not None:
            held.released = bool(token)
        if reply is None:
            return None
        if held is not None:
            held.last_sequence = seq
        return self._published(entries, reply, generation)

    async def read(self, channel: str, after: str | None, limit: int = 100) -> ReadResult:
        self.validate_channel(channel)
        state = self._state()
        if state.subscribed.is_set():
            held = state.tails.read(channel, after, limit)
            if held is not None:
                return held
        generation = state.tails.generation
        after_epoch, after_id = _split_position(after)
        reply = await self._script(
            "READ",
            self._channel_keys(channel),
            [after_epoch, after_id, limit, int(self.max_age * 1000)],
        )
        reset, position, *flat = reply
        epoch = _text(position).partition("-")[0] if position else ""
        messages = [
            _stored(channel, epoch, flat[i], flat[i + 1]) for i in range(0, len(flat), 2)
        ]
        newest = _text(position) if position else None
        if len(messages) < limit and state.subscribed.is_set():
            state.tails.settle(channel, newest, generation)
        return ReadResult(messages, newest, bool(reset))

    async def newest_position(self, channel: str) -> str | None:
        meta, _ = self._channel_keys(channel)
        self.validate_channel(channel)
        epoch, last = await self._command("HMGET", meta, "e", "l")
        if epoch is None or last is None:
            return None
        return f"{_text(epoch)}-{_text(last)}"

    # --- waiting -----------------------------------------------------------------------

    async def wait(self, positions: Mapping[str, str | None], timeout: float) -> bool:
        for channel in positions:
            self.validate_channel(channel)
        state = self._state()
        await self._ensure_listener(state)
        waiter: Waiter = asyncio.get_running_loop().create_future()
        state.waiters.add(positions, waiter)
        try:
            # Registered first, checked second: a publish in between still wakes us.
            if await self._has_news(positions):
                return True
            if timeout <= 0:
                return False
            return await wait_for_news(waiter, timeout)
        finally:
            state.waiters.discard(positions, waiter)

    async def _has_news(self, positions: Mapping[str, str | None]) -> bool:
        tails = self._state().tails
        keys: list[str] = []
        args: list[str | int] = [int(self.max_age * 1000)]
        for channel, after in positions.items():
            known = tails.has_news(channel, after)
            if known:
                return True
            if known is None:  # only Redis can tell
                keys.extend(self._channel_keys(channel))
                args.extend(_split_position(after))
        if not keys:
            return False
        return bool(await self._script("HAS_NEWS", keys, args))

    async def _ensure_listener(self, state: _LoopState) -> None:
        """Start this loop's subscription if needed and wait until it is live."""
        if state.listener is None or state.listener.done():
            state.listener = asyncio.get_running_loop().create_task(
                self._listen(state), name="thywill-redis-wakeups"
            )
        if state.subscribed.is_set():
            return
        state.needed.set()
        timeout = self._pool_options["socket_connect_timeout"] + 1.0
        try:
            await asyncio.wait_for(state.subscribed.wait(), timeout)
        except TimeoutError as exc:
            raise self.outage.failed(
                ConnectionError("the wake-up subscription is not connected")
            ) from exc

    async def _subscribe(self, pubsub: PubSub, *channels: str) -> None:
        """Subscribe to ``channels`` and wait until Redis confirms: a read sent after
        this is answered after the subscription, so no announcement falls between."""
        await pubsub.subscribe(*channels)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._pool_options["socket_connect_timeout"] + 1.0
        confirmed = 0
        while confirmed < len(channels):
            left = deadline - loop.time()
            if left <= 0:
                raise ConnectionError("the wake-up subscription was not confirmed")
            message = await pubsub.get_message(timeout=left)
            if message is not None and message["type"] == "subscribe":
                confirmed += 1

    async def _listen(self, state: _LoopState) -> None:
        """Receive announcements for this loop's readers; resubscribe after a failure."""
        delay = 0.1
        while True:
            pubsub = state.client.pubsub()
            try:
                await self._subscribe(pubsub, self._wake_channel, self._legacy_wake_channel)
                # What the tails held may have missed messages while we were not
                # subscribed; and everyone wakes, to find those by reading.
                state.tails.forget()
                state.subscribed.set()
                delay = 0.1
                state.waiters.wake_every()
                await self._hear(state, pubsub)
            except UNAVAILABLE:
                state.subscribed.clear()
                state.needed.clear()
                state.tails.forget()
                state.waiters.wake_every()
                # Back off, unless a waiter needs the subscription now (Redis may be back).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(state.needed.wait(), delay)
                delay = min(delay * 2, 2.0)
            finally:
                with contextlib.suppress(*UNAVAILABLE, RuntimeError):
                    await pubsub.aclose()

    async def _hear(self, state: _LoopState, pubsub: PubSub) -> None:
        """Handle what the subscription receives until it fails.

        Replies are read off the subscribed connection as Redis sent them, without
        redis-py's per-message timeout and dict: a watchdog pings a quiet subscription
        and ends a silent one.

        Raises:
            redis.exceptions.ConnectionError: the subscription broke or went silent.
        """
        connection = pubsub.connection
        assert connection is not None, "subscribed, so connected"
        watchdog = SubscriptionWatchdog(connection, self._ping_every)
        try:
            while True:
                try:
                    reply = await connection.read_response(
                        timeout=math.inf, disconnect_on_error=False, push_request=True
                    )
                except asyncio.CancelledError:
                    watchdog.check_cancelled()
                    raise
                watchdog.heard()
                # ["message", channel, data]; confirmations and pongs only show life.
                if not isinstance(reply, list) or len(reply) != 3:
                    continue
                kind, channel, data = reply
                if _text(kind) != "message":
                    continue
                if _text(channel) == self._wake_channel:
                    _announced(state, _text(data))
                else:
                    # An older process published without announcing: what the tails
                    # hold of that channel may be behind.
                    legacy = _text(data)
                    state.tails.drop(legacy)
                    state.waiters.wake(legacy)
        finally:
            watchdog.stop()

    # --- sequences and locks -----------------------------------------------------------

    @contextlib.asynccontextmanager
    async def client_lock(
        self, client_id: str, *, session: str | None = None
    ) -> AsyncIterator[None]:
        # Queue this process's own requests locally, so only one of them at a time
        # competes for the Redis lock with other processes.
        async with self._local_locks.hold(client_id):
            key, token = self._lock_key(client_id), secrets.token_hex(8)
            keys = [key, self._sequence_key(client_id)]
            if session is not None:
                keys.append(self._revoked_key(session))
            last = await self._acquire(keys, token)
            lock = _HeldLock(client_id, last, asyncio.current_task(), token)
            held = _held_lock.set(lock)
            # Most sends are over long before a renewal is due: no task until then.
            renewal = _Renewal(self, key, token)
            try:
                yield
            finally:
                _held_lock.reset(held)
                await renewal.stop()
                if not lock.released:
                    # If Redis is gone the lease lapses by itself.
                    with contextlib.suppress(*UNAVAILABLE):
                        await self._state().scripts["RELEASE_LOCK"](
                            keys=[key], args=[token]
                        )

    async def _acquire(self, keys: list[str], token: str) -> int:
        """Take the lock ``keys[0]``; return the last sequence kept at ``keys[1]``.

        Raises:
            SessionRevokedError: ``keys[2]``, a session's revocation record, exists.
        """
        lease_ms = int(self.lock_lease * 1000)
        loop = asyncio.get_running_loop()
        # The holder may be a slow handler that renews its lease; give up in the end
        # (503: the client retries) rather than hang the request.
        deadline = loop.time() + 2 * self.lock_lease + self._pool_options["socket_timeout"]
        delay = 0.005
        while True:
            taken, *last = await self._script("ACQUIRE_LOCK", keys, [token, lease_ms])
            if taken == 1:
                return int(last[0])
            if taken == -1:
                raise SessionRevokedError("the session was revoked")
            # Another process holds it (an overlapping retry): rare, and short.
            if loop.time() > deadline:
                raise PushUnavailableError(f"the send lock {keys[0]} stayed taken")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)

    async def renew_lock(self, key: str, token: str) -> None:
        """Extend the lease of the lock ``key`` while ``token`` holds it, every third of
        the lease, until cancelled."""
        script = self._state().scripts["RENEW_LOCK"]
        lease_ms = int(self.lock_lease * 1000)
        while True:
            with contextlib.suppress(*UNAVAILABLE):
                await script(keys=[key], args=[token, lease_ms])
            await asyncio.sleep(self.lock_lease / 3)

    # --- presence ----------------------------------------------------------------------

    async def renew_presence(self, client_id: str, data: str, ttl: float) -> bool:
        new = await self._script(
            "RENEW_PRESENCE",
            [self._leases_key, self._lease_data_key],
            [client_id, data, int(ttl * 1000)],
        )
        return bool(new)

    async def claim_lapsed(
        self, limit: int = 100, lease: float = 60.0
    ) -> list[tuple[str, str]]:
        flat = await self._script(
            "CLAIM_LAPSED", self._presence_keys(), [limit, int(lease * 1000)]
        )
        return [(_text(flat[i]), _text(flat[i + 1])) for i in range(0, len(flat), 2)]

    async def ack_lapsed(self, client_id: str) -> None:
        await self._script("ACK_LAPSED", self._presence_keys(), [client_id])

    def _presence_keys(self) -> list[str]:
        return [self._leases_key, self._lease_data_key, self._claims_key]

    # --- groups ------------------------------------------------------------------------

    def _member_keys(self, group: str, client_id: str) -> list[str]:
        self.validate_channel(group)
        return [f"{self._tag}:g:{group}", f"{self._tag}:cg:{client_id}", self._groups_key]

    async def add_member(self, group: str, client_id: str) -> bool:
        keys = self._member_keys(group, client_id)
        return bool(await self._script("ADD_MEMBER", keys, [client_id, group]))

    async def remove_member(self, group: str, client_id: str) -> bool:
        keys = self._member_keys(group, client_id)
        return bool(await self._script("REMOVE_MEMBER", keys, [client_id, group]))

    async def members(self, group: str) -> list[str]:
        self.validate_channel(group)
        found = await self._command("SMEMBERS", f"{self._tag}:g:{group}")
        return sorted(_text(member) for member in found)

    async def count_members(self, group: str) -> int:
        self.validate_channel(group)
        return int(await self._command("SCARD", f"{self._tag}:g:{group}"))

    async def memberships(self, client_id: str) -> list[str]:
        # Every long-poll asks (its feed checks the cursor's groups): through the batch.
        found = await self._command("SMEMBERS", f"{self._tag}:cg:{client_id}")
        return sorted(_text(group) for group in found)

    async def groups(
        self, prefix: str = "", *, after: str | None = None, limit: int = 100
    ) -> list[str]:
        self.validate_limit(limit)
        low, high = _lex_range(prefix)
        if after is not None and after.encode() >= low[1:]:
            low = b"(" + after.encode()
        found = await self._command(
            "ZRANGEBYLEX", self._groups_key, low, high, "LIMIT", 0, limit
        )
        return [_text(group) for group in found]

    async def count_groups(self, prefix: str = "") -> int:
        low, high = _lex_range(prefix)
        return int(await self._command("ZLEXCOUNT", self._groups_key, low, high))

    async def present(self, client_ids: Sequence[str]) -> set[str]:
        if not client_ids:
            return set()
        ids = list(client_ids)
        live = await self._script("PRESENT", [self._leases_key], ids)
        return {client_id for client_id, flag in zip(ids, live, strict=True) if flag}

    async def count_present(self) -> int:
        return int(await self._script("COUNT_PRESENT", [self._leases_key], []))

    # --- sessions ----------------------------------------------------------------------

    async def revoke_session(self, session: str, ttl: float) -> None:
        ttl_ms = max(1, int(ttl * 1000))
        await self._command("SET", self._revoked_key(session), 1, "PX", ttl_ms)

    async def session_revoked(self, session: str) -> bool:
        # Every long-poll and stream asks: through the batch.
        return bool(await self._command("EXISTS", self._revoked_key(session)))

    # --- service -----------------------------------------------------------------------

    async def ping(self) -> None:
        client = self._state().client
        await self._call(client.ping)

    async def aclose(self) -> None:
        """Stop this loop's subscription and close its connections."""
        loop = asyncio.get_running_loop()
        state = self._states.pop(loop, None)
        self._recent = None
        if state is None:
            return
        if state.listener is not None:
            state.listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await state.listener
        state.waiters.wake_every()
        with contextlib.suppress(*UNAVAILABLE):
            await state.client.aclose()

    def check(self) -> list[CheckMessage]:
        if self.lock_lease < 1:
            return [
                checks.Warning(
                    f"lock_lease={self.lock_lease} s is very short: a slow handler can "
                    "lose its client's send lock while it runs.",
                    hint="Use a lease of a few seconds or more (the default is 30).",
                    id="thywill.W004",
                )
            ]
        return []


class _Renewal:
    """Renews a held client lock from a third of its lease on, by a task started only
    then."""

    def __init__(self, backend: RedisPushBackend, key: str, token: str) -> None:
        self._task: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(
            backend.lock_lease / 3, self._start, backend, key, token
        )

    def _start(self, backend: RedisPushBackend, key: str, token: str) -> None:
        self._task = asyncio.get_running_loop().create_task(backend.renew_lock(key, token))

    async def stop(self) -> None:
        self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _announced(state: _LoopState, data: str) -> None:
    """Keep an announced message for this loop's readers and wake its channel's
    waiters."""
    channel, epoch, previous, entry_id, *payload = data.split("\n", 4)
    state.tails.learn(
        Announced(channel, epoch, previous, entry_id, payload[0] if payload else None)
    )
    state.waiters.wake(channel)


def _split_position(position: str | None) -> tuple[str, str]:
    """A position as ``(epoch, stream id)``; ``("", "")`` for None.

    Anything malformed becomes an id no stream has, so the scripts report a reset.
    """
    if position is None:
        return "", ""
    epoch, _, stream_id = position.partition("-")
    return epoch, stream_id or "!"


def _lex_range(prefix: str) -> tuple[bytes, bytes]:
    """The ZRANGEBYLEX bounds of the names that start with ``prefix``."""
    if not prefix:
        return b"-", b"+"
    # Names are ASCII (channel names), so every one with the prefix sorts before 0xff.
    return b"[" + prefix.encode(), b"(" + prefix.encode() + b"\xff"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _stored(
    channel: str, epoch: str, entry_id: bytes | str, payload: bytes | str
) -> StoredMessage:
    """A stream entry as a message. Its id is ``<ms>-<seq>``, ``ms`` when Redis added it
    (by Redis's clock): the message's publication time."""
    entry = _text(entry_id)
    published_at = int(entry.partition("-")[0]) / 1000
    return StoredMessage(channel, f"{epoch}-{entry}", _text(payload), published_at)
