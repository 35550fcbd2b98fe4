"""The push backend contract: ordered, bounded channel logs with positions.

A push backend stores the messages pushed to channels, lets any server process read them
after a position and wait for new ones, and keeps the little per-client state that must be
shared by every process (the highest send sequence handled). Its semantics are specified in
documentation/push-backend-spec.md and enforced for every implementation by
tests/contracts/push.py.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager

from django.core.cache.backends.base import BaseCache
from django.core.checks import CheckMessage

from thywill.log.base import BaseLog
from thywill.log.stdlib import StdlibLog

CHANNEL_NAME = re.compile(r"[A-Za-z0-9_.:@-]{1,200}")


@dataclasses.dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message in a channel: its position and its data, already encoded as JSON,
    and when it was published (``time.time()`` seconds, by the backend's clock; None
    when the backend does not know), for the delivery latency metric. Two reads of one
    message are equal whatever their ``published_at``."""

    channel: str
    position: str
    payload: str
    published_at: float | None = dataclasses.field(default=None, compare=False)


@dataclasses.dataclass(frozen=True, slots=True)
class ReadResult:
    """What one read of one channel returned.

    Attributes:
        messages: the messages after the requested position, oldest first.
        position: the position to read after next time (the last message's, or the one
            asked for when nothing is new, or ``None`` for a channel that is still empty).
        reset: true when history that the requested position needed is gone; the
            messages are then everything still retained, from the oldest.
    """

    messages: Sequence[StoredMessage]
    position: str | None
    reset: bool = False


class BasePushBackend:
    """Base class of push backends.

    Subclasses take their OPTIONS as keyword-only constructor arguments and must provide
    ``publish_many``, ``read``, ``newest_position``, ``wait``, ``last_sequence``,
    ``publish_sequenced``, ``client_lock``, the presence leases ``renew_presence``,
    ``claim_lapsed`` and ``ack_lapsed``, the group membership methods ``add_member``,
    ``remove_member``, ``members`` and ``memberships``, the session revocations
    ``revoke_session`` and ``session_revoked``, and the operators' reads ``groups``,
    ``count_groups``, ``present`` and ``count_present``.

    Args:
        capacity: how many messages a channel keeps at most; older ones are trimmed.
        max_age: how many seconds a message is kept at most.
    """

    shared: bool = True
    """Whether every process using the backend reaches the same channels (False for a
    backend that keeps them in one process's memory)."""

    log: BaseLog
    """Where the backend reports what no request hears of, such as the end of an outage:
    the log component, once thywill has built the components (``use_log``)."""

    def __init__(self, *, capacity: int = 1000, max_age: float = 3600.0) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive integer, not {capacity!r}")
        if isinstance(max_age, bool) or not isinstance(max_age, int | float):
            raise ValueError(f"max_age must be a number of seconds, not {max_age!r}")
        if max_age <= 0:
            raise ValueError(f"max_age must be positive, not {max_age!r}")
        self.capacity = capacity
        self.max_age = float(max_age)
        self.log = StdlibLog()

    def use_log(self, log: BaseLog) -> None:
        """Report to ``log`` from now on (called by thywill when it builds the backend)."""
        self.log = log

    def shared_cache(self) -> BaseCache | None:
        """A Django cache on the backend's own store, reached by every process that
        uses the backend: where hook scripts' ``shared`` state lives unless
        ``THYWILL_HOOKS["CACHE"]`` names another. None (the default) for a backend
        with no such store; ``shared`` then uses Django's ``"default"`` cache."""
        return None

    async def publish(self, channel: str, payload: str) -> str:
        """Append one message to a channel and wake its readers.

        Args:
            channel: the channel's name (see ``validate_channel``).
            payload: the message's data, already encoded as JSON text.

        Returns:
            The new message's position.

        Raises:
            ValueError: the channel name is invalid.
            PushUnavailableError: the backend cannot be reached.
        """
        (position,) = await self.publish_many([(channel, payload)])
        return position

    async def publish_many(self, entries: Sequence[tuple[str, str]]) -> list[str]:
        """Append several ``(channel, payload)`` messages, in order, all or none.

        Args:
            entries: the messages, each a channel name and a JSON payload.

        Returns:
            The new messages' positions, in the order of ``entries``.

        Raises:
            ValueError: a channel name is invalid (then nothing is published).
            PushUnavailableError: the backend cannot be reached (then nothing was
                published, or everything was: never a part).
        """
        raise NotImplementedError(
            "subclasses of BasePushBackend must provide publish_many()"
        )

    async def read(self, channel: str, after: str | None, limit: int = 100) -> ReadResult:
        """Read up to ``limit`` messages of a channel after a position.

        Args:
            channel: the channel to read.
            after: the last position the reader saw, or ``None`` to read from the oldest
                retained message.
            limit: the most messages to return; the rest come with the next read.

        Returns:
            The messages, the position to read after next time, and whether history the
            reader needed was lost (see ``ReadResult``). A position this backend cannot
            have issued also counts as lost history.

        Raises:
            PushUnavailableError: the backend cannot be reached.
        """
        raise NotImplementedError("subclasses of BasePushBackend must provide read()")

    async def newest_position(self, channel: str) -> str | None:
        """The position of the newest message ever published to a channel.

        A reader after it gets only what is published later, without a reset (unless
        retention removes those first). thywill subscribes a feed to a group "from now"
        with it.

        Returns:
            The position, or ``None`` for a channel that never had a message (or whose
            history the backend forgot).

        Raises:
            ValueError: the channel name is invalid.
            PushUnavailableError: the backend cannot be reached.
        """
        raise NotImplementedError(
            "subclasses of BasePushBackend must provide newest_position()"
        )

    async def wait(self, positions: Mapping[str, str | None], timeout: float) -> bool:
        """Wait until any of the channels has a message after its given position.

        Returns at once when one already has. This is what transports block on, so it
        must not poll: a backend wakes waiters when a message is published, from any
        process.

        Args:
            positions: channel name to the last position the reader saw (or ``None``).
            timeout: the most seconds to wait.

        Returns:
            True when something new may be there, False when the timeout passed.
        """
        raise NotImplementedError("subclasses of BasePushBackend must provide wait()")

    async def last_sequence(self, client_id: str) -> int:
        """The highest send sequence number recorded for a client (0 when none).

        Raises:
            PushUnavailableError: the backend cannot be reached.
        """
        raise NotImplementedError(
            "subclasses of BasePushBackend must provide last_sequence()"
        )

    async def publish_sequenced(
        self,
        client_id: str,
        seq: int,
        entries: Sequence[tuple[str, str]],
        *,
        final: bool = False,
    ) -> list[str] | None:
        """Record a client's send ``seq`` as handled and publish what it sent, atomically.

        This is how a send's results are released: the record and the messages land
        together or not at all, so a send whose results were lost to a backend fault is
        not mistaken for a duplicate when the client retries it.

        Args:
            client_id: the client whose send this was.
            seq: its sequence number.
            entries: what handling it sent, as for ``publish_many`` (may be empty).
            final: the caller holds the client's ``client_lock`` and does nothing more
                under it: the backend may release the lock in the same round trip
                (Redis does), and the lock's exit then has nothing left to release.

        Returns:
            The positions of the published entries, or ``None`` (and nothing published)
            when ``seq`` is not above the client's recorded sequence.

        Raises:
            ValueError: a channel name is invalid (then nothing is recorded).
            PushUnavailableError: the backend cannot be reached.
        """
        raise NotImplementedError(
            "subclasses of BasePushBackend must provide publish_sequenced()"
        )

    def client_lock(
        self, client_id: str, *, session: str | None = None
    ) -> AbstractAsyncContextManager[None]:
        """An async context manager that serialises the sends of one client.

        Held across reading the client's sequence, running its handlers and
        ``publish_sequenced``, so a retried request that overlaps the original waits
        and then sees true duplicates. It must exclude every process sharing the
        backend, and a lock held by a process that died must lapse.

        Args:
            client_id: the client.
            session: the client's session hash: the lock is taken only while
                ``session_revoked(session)`` is false, checked when it is taken (a
                networked backend checks in the same round trip).

        Raises:
            SessionRevokedError: on entering, when ``session`` was revoked.
            PushUnavailableError: the backend cannot be reached.
        """
        raise NotImplementedError(
            "subclasses of BasePushBackend must provide client_lock()"
        )

    async def renew_presence(self, client_id: str, data: str, ttl: float) -> bool:
        """Take or extend a client's presence lease for ``ttl`` seconds from now.

        Transports renew the lease of every connected client; when renewals stop, it
        lapses and ``claim_lapsed`` hands the client over for its disconnect event.

        Args:
            client_id: the client.
            data: what ``claim_lapsed`` must give back with it (thywill stores the
                client's identity), as text.
            ttl: how many seconds the lease lasts without another renewal.

        Returns:
            True when the client held no lease (it is newly present), False when an
            existing lease was extended.

        Raises:
            PushUnavailableError: the backend cannot be reached.
        """
        raise NotImplementedError(
            "subclasses of BasePushBackend must provide renew_presence()"
        )

    async def claim_lapsed(
        self, limit: int = 100, lease: float = 60.0
    ) -> list[tuple[str, str]]:
        """Claim up to ``limit`` lapsed leases and return them as ``(client_id, data)``.

        Every server process sweeps with this; each lapsed lease is handed to exactly
        one caller in all of them, which runs the client's disconnect event and then
        calls ``ack_lapsed``. A claim not acknowledged within ``lease`` seconds (its
        claimer died) is handed out again by a later call, so a disconnect event is
        never lost.

        Raises:
            PushUnavailableError: the backend cannot be reached.
        """
        raise NotImplementedError(
            "subclasses of BasePushBackend must provide claim_lapsed()"
        )

    async def ack_lapsed(self, client_id: str) -> None:
        """Settle a claim of ``claim_lapsed``: the client's disconnect event ran.

        Raises:
            PushUnavailableError: the backend cannot be reached.
        """
        raise NotImplementedError("subclasses of BasePushBackend must provide ack_lapsed()")

    async def add_member(self, group: str, client_id: str) -> bool:
        """Make a client a member of a group (the group exists while it has members).

        Membership is shared by every process using the backend, so who is in a group
        is the same answer everywhere.

        Args:
            group: the group's name (a valid channel name: thywill passes the group's
                channel, ``group:<application>:<name>``).
            client_id: the client.

        Returns:
            True when the client was not a member before, False when it already was.

        Raises:
            ValueError: the group name is invalid.
            PushUnavailableError: the backend cannot be reached.
        """
        raise NotImplementedError("subclasses of BasePushBackend must provide add_member()")

    async def remove_member(self, group: str, client_id: str) -> bool:
        """Remove a client from a group.

        Returns:
            True when the client was a member, False when it was not.

        Raises:
            ValueError: the group name is invalid.
            PushUnavailableError: the backend cannot be reached.
        """
        raise NotImplementedError(
            "subclasses of BasePushBackend must provide remove_member()"
        )

    async def members(self, group: str) -> list[str]:
        """The client ids that are members of a group now, sorted (empty: no group).

        Raises:
            ValueError: the group name is invalid.
            PushUnavailableError: the backend cannot be reached.
        """
        raise NotImplementedError("subclasses of BasePushBackend must provide members()")

    async def count_members(self, group: str) -> int:
        """How many clients are members of a group now (0: no group).

        The base reads the members; a backend that can count without reading them all
        (Redis: ``SCARD``) does.

        Raises:
            ValueError: the group name is invalid.
            PushUnavailableError: the backend cannot be reached.
        """
        return len(await self.members(group))

    async def memberships(self, client_id: str) -> list[str]:
        """The names of the groups a client is a member of now, sorted.

        Raises:
            PushUnavailableError: the backend cannot be reached.
        """
        raise NotImplementedError(
            "subclasses of BasePushBackend must provide memberships()"
        )

    async def groups(
        self, prefix: str = "", *, after: str | None = None, limit: int = 100
    ) -> list[str]:
        """The names of the groups that have members now, sorted, a page at a time.

        For operators' pages and commands, never a hot path: the cost is bounded by
        ``limit``, however many groups there are.

        Args:
            prefix: only the groups whose names start with it (thywill passes
                ``group:<application>:``).
            after: only the names sorted after it (the last name of the previous page).
            limit: the most names to return.

        Raises:
            ValueError: ``limit`` is not a positive integer.
            PushUnavailableError: the backend cannot be reached.
        """
        raise NotImplementedError("subclasses of BasePushBackend must provide groups()")

    async def count_groups(self, prefix: str = "") -> int:
        """How many groups whose names start with ``prefix`` have members now.

        Raises:
            PushUnavailableError: the backend cannot be reached.
        """
        raise NotImplementedError(
            "subclasses of BasePushBackend must provide count_groups()"
        )

    async def present(self, client_ids: Sequence[str]) -> set[str]:
        """Which of these clients hold a presence lease that has not lapsed (they are
        connected), in one read.

        Raises:
            PushUnavailableError: the backend cannot be reached.
        """
        raise NotImplementedError("subclasses of BasePushBackend must provide present()")

    async def count_present(self) -> int:
        """How many clients hold a presence lease that has not lapsed.

        Raises:
            PushUnavailableError: the backend cannot be reached.
        """
        raise NotImplementedError(
            "subclasses of BasePushBackend must provide count_present()"
        )

    @staticmethod
    def validate_limit(limit: int) -> None:
        """Raise ValueError unless ``limit`` is a positive integer."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive integer, not {limit!r}")

    async def revoke_session(self, session: str, ttl: float) -> None:
        """Record that a browser session ended (a logout), for ``ttl`` seconds.

        Every process must see the record at once: from then on thywill refuses the
        requests of the session's clients and ends their open streams. ``ttl`` is
        TOKEN_MAX_AGE: a token older than that is refused anyway, so the record may go.

        Args:
            session: the session's keyed hash (``thywill.identity.tokens.session_hash``:
                32 hex digits), never the session key itself.
            ttl: how many seconds the record lasts; revoking again restarts it.

        Raises:
            PushUnavailableError: the backend cannot be reached.
        """
        raise NotImplementedError(
            "subclasses of BasePushBackend must provide revoke_session()"
        )

    async def session_revoked(self, session: str) -> bool:
        """Whether ``revoke_session(session, ...)`` was called and its ttl has not passed.

        thywill calls it at the start of every request and with the lease renewals of open
        streams, so it must be one cheap read.

        Raises:
            PushUnavailableError: the backend cannot be reached.
        """
        raise NotImplementedError(
            "subclasses of BasePushBackend must provide session_revoked()"
        )

    async def ping(self) -> None:
        """Raise ``PushUnavailableError`` when the backend cannot be reached."""

    async def aclose(self) -> None:
        """Release connections and background tasks."""

    def check(self) -> list[CheckMessage]:
        """Return system-check messages about this backend's configuration."""
        return []

    @staticmethod
    def validate_channel(channel: str) -> None:
        """Raise ValueError unless ``channel`` is a valid channel name."""
        if not CHANNEL_NAME.fullmatch(channel):
            raise ValueError(
                f"invalid channel name {channel!r}: use 1 to 200 characters of "
                "letters, digits and _ . : @ -"
            )
