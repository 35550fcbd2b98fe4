"""What the wake-ups told one process about the newest messages of its readers' channels.

Every message published through the Redis backend is announced on the wake-up channel
with its channel, epoch, stream id, the id before it and (up to a size) its payload.
Redis runs scripts one at a time and delivers a subscription's messages in order, so a
process that has been subscribed without a break since it started following a channel
knows that channel's newest id, and holds its newest messages, without asking Redis:

- a reader after the newest id has nothing new to read;
- a reader after an id that a held message names as the one before it reads the held
  messages from there, exactly (the stream's ``p`` field makes the chain exact);
- any other read goes to Redis, and a complete read tells the tails where the channel
  stands.

What a tail claims is never stale by more than a wake-up still on its way, and that
wake-up wakes the waiters when it lands: readers lose nothing and wait no longer. A read
in another process right after a publish may not see it until its wake-up arrives
(``documentation/push-backend-spec.md``).

Bounds: at most ``max_channels`` channels, each holding its newest ``max_messages``
messages, all together at most ``max_bytes`` characters of payload; a channel not read
for ``idle`` seconds is forgotten. Past a bound the least recently read channels go
first, and a forgotten channel is read from Redis again.
"""

from __future__ import annotations

import collections
import dataclasses
import time

from thywill.push.base import ReadResult, StoredMessage


@dataclasses.dataclass(frozen=True, slots=True)
class Announced:
    """One message as its wake-up announced it.

    Attributes:
        channel: its channel.
        epoch: the epoch of the channel's history.
        previous: the stream id of the message before it ('' for a channel's first).
        entry_id: its stream id, ``<ms>-<seq>``.
        payload: its data, or None when it was too large to announce.
    """

    channel: str
    epoch: str
    previous: str
    entry_id: str
    payload: str | None

    def stored(self) -> StoredMessage:
        """The message as a read returns it (only when the payload was announced)."""
        assert self.payload is not None
        published_at = int(self.entry_id.partition("-")[0]) / 1000
        return StoredMessage(
            self.channel, f"{self.epoch}-{self.entry_id}", self.payload, published_at
        )


EMPTY = (0, 0)
"""The ``newest`` of a channel known to hold no message (its ``newest_id`` is '')."""


@dataclasses.dataclass(slots=True)
class _Tail:
    """What is known of one channel: nothing yet (``newest`` is None), that it holds
    no message (``EMPTY``), or its newest id and the unbroken run of messages that ends
    with it."""

    epoch: str = ""
    newest: tuple[int, int] | None = None
    newest_id: str = ""
    held: collections.deque[Announced] = dataclasses.field(
        default_factory=collections.deque
    )
    size: int = 0
    read_at: float = 0.0


def parse_id(entry_id: str) -> tuple[int, int] | None:
    """A stream id ``<ms>-<seq>`` as numbers, or None when it is not one."""
    ms, _, seq = entry_id.partition("-")
    if not (ms.isdigit() and seq.isdigit()):
        return None
    return int(ms), int(seq)


class ChannelTails:
    """The newest messages of the channels this process's readers read, per event loop.

    Args:
        max_channels: the most channels followed.
        max_messages: the most messages held per channel.
        max_bytes: the most characters of payload held over every channel.
        idle: seconds after which a channel nobody read is forgotten.
    """

    def __init__(
        self,
        *,
        max_channels: int = 100_000,
        max_messages: int = 64,
        max_bytes: int = 16 * 1024 * 1024,
        idle: float = 60.0,
    ) -> None:
        self.max_channels = max_channels
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.idle = idle
        self.generation = 0
        """Counts the times everything was forgotten (a subscription that broke): a
        read sent in an earlier generation tells nothing."""
        self._tails: collections.OrderedDict[str, _Tail] = collections.OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        return len(self._tails)

    @property
    def size(self) -> int:
        """Characters of payload held."""
        return self._size

    def forget(self) -> None:
        """Forget everything: the wake-ups may have missed messages."""
        self._tails.clear()
        self._size = 0
        self.generation += 1

    def drop(self, channel: str) -> None:
        """Forget what is known of ``channel``: something was published to it that was
        not announced."""
        tail = self._tails.get(channel)
        if tail is not None:
            self._unknown(tail)

    def read(self, channel: str, after: str | None, limit: int) -> ReadResult | None:
        """Read ``channel`` after ``after`` from what is held, or None: ask Redis.

        Follows the channel from now on (or again), so that later wake-ups are kept.
        """
        tail = self._follow(channel, time.monotonic())
        start = _start(tail, after)
        if start is None:
            return None
        if start == len(tail.held):
            return ReadResult([], after)
        run = [m.stored() for m in _slice(tail.held, start, limit)]
        return ReadResult(run, run[-1].position)

    def has_news(self, channel: str, after: str | None) -> bool | None:
        """Whether a read of ``channel`` after ``after`` would return something; None
        when only Redis can tell."""
        tail = self._tails.get(channel)
        if tail is None:
            return None
        tail.read_at = time.monotonic()  # a waiting reader is a reader
        self._tails.move_to_end(channel)
        start = _start(tail, after)
        return None if start is None else start < len(tail.held)

    def settle(self, channel: str, position: str | None, generation: int) -> None:
        """A complete read of ``channel`` (sent in ``generation``) found its newest
        position: ``position``."""
        tail = self._tails.get(channel)
        if tail is None or generation != self.generation:
            return
        if position is None:  # the channel holds no message, and never did
            if tail.newest is None:
                tail.newest = EMPTY
            elif tail.newest != EMPTY:
                self._unknown(tail)  # its history expired, or what we hold is newer
            return
        epoch, _, entry_id = position.partition("-")
        newest = parse_id(entry_id)
        if newest is None:
            return
        if tail.newest is None:
            self._restart(tail, epoch, newest, entry_id)
        elif epoch != tail.epoch:
            # Which of the two histories is the later one cannot be told here.
            self._unknown(tail)
        elif newest > tail.newest:
            self._restart(tail, epoch, newest, entry_id)

    def learn(self, message: Announced, generation: int | None = None) -> None:
        """Keep an announced message of a followed channel (others are ignored).

        Args:
            message: the message, announced or just published by this process.
            generation: for a message this process published, the generation when it
                sent the publish (a reply that outlived a broken subscription tells
                nothing of the newer messages the subscription missed).
        """
        if generation is not None and generation != self.generation:
            return
        self._expire(time.monotonic())
        tail = self._tails.get(message.channel)
        if tail is None:
            return
        entry = parse_id(message.entry_id)
        if entry is None:
            return
        if tail.newest is not None and message.epoch == tail.epoch:
            if entry <= tail.newest:
                return  # announced before a read that already saw it
            if message.previous != tail.newest_id:
                self._restart(tail, message.epoch, entry, message.entry_id)
        else:
            self._restart(tail, message.epoch, entry, message.entry_id)
        tail.newest, tail.newest_id = entry, message.entry_id
        if message.payload is None:
            self._drop_held(tail)  # the run is broken here: read it from Redis
            return
        tail.held.append(message)
        tail.size += len(message.payload)
        self._size += len(message.payload)
        while len(tail.held) > self.max_messages:
            self._pop_oldest(tail)
        self._bound()

    def _follow(self, channel: str, now: float) -> _Tail:
        tail = self._tails.get(channel)
        if tail is None:
            tail = self._tails[channel] = _Tail()
            self._bound()
        else:
            self._tails.move_to_end(channel)
        tail.read_at = now
        self._expire(now)
        return tail

    def _restart(
        self, tail: _Tail, epoch: str, newest: tuple[int, int], newest_id: str
    ) -> None:
        self._drop_held(tail)
        tail.epoch, tail.newest, tail.newest_id = epoch, newest, newest_id

    def _unknown(self, tail: _Tail) -> None:
        self._drop_held(tail)
        tail.epoch, tail.newest, tail.newest_id = "", None, ""

    def _drop_held(self, tail: _Tail) -> None:
        self._size -= tail.size
        tail.held.clear()
        tail.size = 0

    def _pop_oldest(self, tail: _Tail) -> None:
        dropped = tail.held.popleft()
        length = len(dropped.payload or "")
        tail.size -= length
        self._size -= length

    def _bound(self) -> None:
        while len(self._tails) > self.max_channels or (
            self._size > self.max_bytes and self._tails
        ):
            _, tail = self._tails.popitem(last=False)
            self._size -= tail.size

    def _expire(self, now: float) -> None:
        """Forget the channels nobody read for ``idle`` seconds (oldest first)."""
        while self._tails:
            channel, tail = next(iter(self._tails.items()))
            if now - tail.read_at < self.idle:
                return
            del self._tails[channel]
            self._size -= tail.size


def _start(tail: _Tail, after: str | None) -> int | None:
    """Where the messages after ``after`` start in what ``tail`` holds (its length:
    nothing new), or None: only Redis can tell."""
    if tail.newest is None:
        return None
    if after is None:  # from the oldest message
        if tail.newest == EMPTY:
            return 0
        after_id = ""  # only a run from the channel's first message will do
    else:
        epoch, _, after_id = after.partition("-")
        if epoch != tail.epoch or tail.newest == EMPTY:
            return None
        if after_id == tail.newest_id:
            return len(tail.held)
    # From the newest: a reader that keeps up is after one of the last few.
    for back, message in enumerate(reversed(tail.held), 1):
        if message.previous == after_id:
            return len(tail.held) - back
    return None


def _slice(held: collections.deque[Announced], start: int, limit: int) -> list[Announced]:
    return [held[i] for i in range(start, min(len(held), start + limit))]
