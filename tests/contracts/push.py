"""The push backend contract, run against every push backend (Django's BaseCacheTests).

A test class mixes ``PushBackendContract`` in and its module provides two fixtures:

``push_backend``
    A fresh backend with default options, sync or async fixture, cleaned up after the test.
``make_push_backend``
    A factory ``make_push_backend(**options)`` returning another fresh, independent backend
    (its own storage: for Redis, its own key prefix) built with those OPTIONS; it may
    return the backend or an awaitable of it. Backends it made are closed by the fixture.

Everything here goes through the public ``BasePushBackend`` API only: positions are opaque
strings, so the contract never parses them, never compares them as strings and never
looks at a backend's private state. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import inspect
import secrets
import time
from typing import Any

import pytest

from thywill.exceptions import SessionRevokedError
from thywill.push.base import BasePushBackend, ReadResult, StoredMessage

# How long a wait that must return "at once" may take, and how long a wait that must be
# woken up may take, in seconds: both far below the waits' own timeouts.
PROMPTLY = 1.0
LONG_WAIT = 10.0


def new_channel(label: str = "c") -> str:
    """A channel name no other test uses."""
    return f"contract.{label}.{secrets.token_hex(4)}"


def new_client() -> str:
    """A client id no other test uses."""
    return secrets.token_urlsafe(16)


def new_session() -> str:
    """A session hash no other test uses (32 hex digits, as thywill's are)."""
    return secrets.token_hex(16)


def flat(result: ReadResult) -> tuple[list[StoredMessage], str | None, bool]:
    """A read result as a plain tuple, to compare it whole."""
    return list(result.messages), result.position, result.reset


async def make(factory: Any, **options: Any) -> BasePushBackend:
    """Call the ``make_push_backend`` factory, awaiting it when it is async."""
    backend = factory(**options)
    if inspect.isawaitable(backend):
        backend = await backend
    assert isinstance(backend, BasePushBackend)
    return backend


async def publish_all(
    push: BasePushBackend, channel: str, payloads: list[str]
) -> list[StoredMessage]:
    """Publish payloads one by one; return the messages a reader should see."""
    return [StoredMessage(channel, await push.publish(channel, p), p) for p in payloads]


class PushBackendContract:
    """Semantics every push backend must have (push/base.py docstrings)."""

    # --- publish and read -------------------------------------------------------------

    async def test_publish_returns_a_position_string(self, push_backend):
        """Publishing returns the new message's position as a non-empty string."""
        position = await push_backend.publish(new_channel(), '"hello"')
        assert isinstance(position, str)
        assert position

    async def test_positions_are_distinct_and_increase_in_read_order(self, push_backend):
        """Each publish gets a new position, and reads return messages in publish order."""
        channel = new_channel()
        sent = await publish_all(push_backend, channel, [f'{{"n":{i}}}' for i in range(10)])
        assert len({m.position for m in sent}) == 10
        assert flat(await push_backend.read(channel, None)) == (
            sent,
            sent[-1].position,
            False,
        )

    async def test_read_of_an_unused_channel_is_empty(self, push_backend):
        """Reading a channel nobody published to gives nothing, no position, no reset."""
        assert flat(await push_backend.read(new_channel(), None)) == ([], None, False)

    async def test_read_after_none_returns_everything_retained(self, push_backend):
        """Reading after None returns every retained message, oldest first."""
        channel = new_channel()
        sent = await publish_all(push_backend, channel, ['"a"', '"b"', '"c"'])
        assert flat(await push_backend.read(channel, None)) == (
            sent,
            sent[-1].position,
            False,
        )

    async def test_read_after_a_position_returns_only_later_messages(self, push_backend):
        """Reading after a message's position returns exactly the messages after it."""
        channel = new_channel()
        sent = await publish_all(push_backend, channel, [f'"{i}"' for i in range(6)])
        for index, message in enumerate(sent):
            later = sent[index + 1 :]
            expected_position = later[-1].position if later else message.position
            assert flat(await push_backend.read(channel, message.position)) == (
                later,
                expected_position,
                False,
            )

    async def test_read_returns_the_same_position_when_nothing_is_new(self, push_backend):
        """Reading after the newest position returns no messages and that same position."""
        channel = new_channel()
        [last] = await publish_all(push_backend, channel, ['"only"'])
        assert flat(await push_backend.read(channel, last.position)) == (
            [],
            last.position,
            False,
        )

    async def test_read_is_repeatable(self, push_backend):
        """Reading does not consume: the same read twice returns the same result."""
        channel = new_channel()
        await publish_all(push_backend, channel, ['"a"', '"b"'])
        first = flat(await push_backend.read(channel, None))
        assert flat(await push_backend.read(channel, None)) == first

    async def test_limit_bounds_a_read_and_the_rest_follows(self, push_backend):
        """A read returns at most ``limit`` messages; reading on gets the rest."""
        channel = new_channel()
        sent = await publish_all(push_backend, channel, [f'"{i}"' for i in range(5)])
        first = await push_backend.read(channel, None, limit=2)
        assert flat(first) == (sent[:2], sent[1].position, False)
        second = await push_backend.read(channel, first.position, limit=2)
        assert flat(second) == (sent[2:4], sent[3].position, False)
        third = await push_backend.read(channel, second.position, limit=2)
        assert flat(third) == (sent[4:], sent[4].position, False)

    async def test_payload_is_stored_verbatim(self, push_backend):
        """The payload comes back exactly as published, spaces and non-ASCII included."""
        channel = new_channel()
        payload = '{ "text" : "héllo ✓ \\u00e9",\n "n": [1, 2.5e3, null] }'
        position = await push_backend.publish(channel, payload)
        assert flat(await push_backend.read(channel, None)) == (
            [StoredMessage(channel, position, payload)],
            position,
            False,
        )

    async def test_later_publishes_are_read_after_an_earlier_read(self, push_backend):
        """A reader that resumes from its last position sees each new message once."""
        channel = new_channel()
        position = None
        seen: list[StoredMessage] = []
        for i in range(4):
            await push_backend.publish(channel, f'"{i}"')
            result = await push_backend.read(channel, position)
            assert not result.reset
            seen.extend(result.messages)
            position = result.position
        assert [m.payload for m in seen] == ['"0"', '"1"', '"2"', '"3"']

    async def test_channels_are_isolated(self, push_backend):
        """Messages published to one channel are never read from another."""
        first, second = new_channel("first"), new_channel("second")
        sent_first = await publish_all(push_backend, first, ['"1a"', '"1b"'])
        sent_second = await publish_all(push_backend, second, ['"2a"'])
        assert flat(await push_backend.read(first, None)) == (
            sent_first,
            sent_first[-1].position,
            False,
        )
        assert flat(await push_backend.read(second, None)) == (
            sent_second,
            sent_second[-1].position,
            False,
        )

    async def test_publish_many_keeps_order_across_channels(self, push_backend):
        """publish_many returns one position per entry and stores each channel in order."""
        first, second = new_channel("first"), new_channel("second")
        entries = [(first, '"1"'), (second, '"2"'), (first, '"3"'), (second, '"4"')]
        positions = await push_backend.publish_many(entries)
        assert len(positions) == 4
        stored = [
            StoredMessage(c, p, d) for (c, d), p in zip(entries, positions, strict=True)
        ]
        assert flat(await push_backend.read(first, None)) == (
            [stored[0], stored[2]],
            stored[2].position,
            False,
        )
        assert flat(await push_backend.read(second, None)) == (
            [stored[1], stored[3]],
            stored[3].position,
            False,
        )

    async def test_publish_many_of_nothing_publishes_nothing(self, push_backend):
        """publish_many of an empty list returns an empty list."""
        assert await push_backend.publish_many([]) == []

    @pytest.mark.parametrize(
        "channel",
        [
            "",
            "has space",
            "slash/name",
            "x" * 201,
            "ünïcode",
            "tab\tname",
            "new\nline",
            "trailing-newline\n",
        ],
    )
    async def test_invalid_channel_names_are_refused(self, push_backend, channel):
        """publish, publish_many and read refuse an invalid channel name with ValueError."""
        with pytest.raises(ValueError, match="invalid channel name"):
            await push_backend.publish(channel, '"x"')
        with pytest.raises(ValueError, match="invalid channel name"):
            await push_backend.publish_many([(channel, '"x"')])
        with pytest.raises(ValueError, match="invalid channel name"):
            await push_backend.read(channel, None)

    async def test_valid_channel_name_characters_are_accepted(self, push_backend):
        """Letters, digits and _ . : @ - make a valid channel name, up to 200 characters."""
        for channel in ("client:Ab_9-x", "group.room@site", "a" * 200):
            position = await push_backend.publish(channel, "1")
            assert flat(await push_backend.read(channel, None)) == (
                [StoredMessage(channel, position, "1")],
                position,
                False,
            )

    # --- retention: capacity ----------------------------------------------------------

    async def test_capacity_keeps_only_the_newest_messages(self, make_push_backend):
        """A channel over capacity keeps only its newest ``capacity`` messages."""
        push = await make(make_push_backend, capacity=3)
        channel = new_channel()
        sent = await publish_all(push, channel, [f'"{i}"' for i in range(5)])
        assert flat(await push.read(channel, None)) == (sent[2:], sent[4].position, False)

    async def test_trimmed_position_gets_a_reset_and_what_is_retained(
        self, make_push_backend
    ):
        """A reader whose next message was trimmed gets a reset and all that is retained."""
        push = await make(make_push_backend, capacity=3)
        channel = new_channel()
        sent = await publish_all(push, channel, [f'"{i}"' for i in range(5)])
        # The reader saw message 0; message 1 is gone.
        assert flat(await push.read(channel, sent[0].position)) == (
            sent[2:],
            sent[4].position,
            True,
        )

    async def test_position_still_within_history_gets_no_reset(self, make_push_backend):
        """A reader whose next message is still retained reads on without a reset."""
        push = await make(make_push_backend, capacity=3)
        channel = new_channel()
        sent = await publish_all(push, channel, [f'"{i}"' for i in range(5)])
        # The reader saw message 1; messages 2, 3, 4 are all retained.
        assert flat(await push.read(channel, sent[1].position)) == (
            sent[2:],
            sent[4].position,
            False,
        )
        assert flat(await push.read(channel, sent[3].position)) == (
            sent[4:],
            sent[4].position,
            False,
        )

    async def test_reset_respects_limit_and_reading_on_is_not_reset(
        self, make_push_backend
    ):
        """A reset read returns at most ``limit`` messages; the next read goes on."""
        push = await make(make_push_backend, capacity=3)
        channel = new_channel()
        sent = await publish_all(push, channel, [f'"{i}"' for i in range(6)])
        first = await push.read(channel, sent[0].position, limit=2)
        assert flat(first) == (sent[3:5], sent[4].position, True)
        assert flat(await push.read(channel, first.position, limit=2)) == (
            sent[5:],
            sent[5].position,
            False,
        )

    # --- retention: age ---------------------------------------------------------------

    async def test_expired_messages_are_not_returned(self, make_push_backend):
        """Messages older than ``max_age`` are gone, even for a reader after None."""
        push = await make(make_push_backend, max_age=0.2)
        channel = new_channel()
        await publish_all(push, channel, ['"old1"', '"old2"'])
        await asyncio.sleep(0.3)  # real time: a backend's clock may be a server's
        result = await push.read(channel, None)
        assert (list(result.messages), result.reset) == ([], False)
        # Whatever position it returned, reading on from it gets only newer messages.
        [fresh] = await publish_all(push, channel, ['"new"'])
        assert flat(await push.read(channel, result.position)) == (
            [fresh],
            fresh.position,
            False,
        )

    async def test_expiry_resets_readers_that_missed_messages_only(self, make_push_backend):
        """After expiry a reader that missed a message is reset; one that saw all is not."""
        max_age = 0.4
        push = await make(make_push_backend, max_age=max_age)
        channel = new_channel()
        old = await publish_all(push, channel, ['"old0"', '"old1"'])
        await asyncio.sleep(0.25)
        [fresh] = await publish_all(push, channel, ['"fresh"'])
        published_fresh = time.monotonic()
        await asyncio.sleep(0.2)  # the old ones are now over max_age, the fresh one is not
        missed_one = flat(await push.read(channel, old[0].position))
        saw_all_old = flat(await push.read(channel, old[1].position))
        newcomer = flat(await push.read(channel, None))
        assert time.monotonic() - published_fresh < max_age, "the test ran too slowly"
        assert missed_one == ([fresh], fresh.position, True)
        assert saw_all_old == ([fresh], fresh.position, False)
        assert newcomer == ([fresh], fresh.position, False)

    # --- positions the backend did not issue ------------------------------------------

    async def test_position_from_another_backend_gets_a_reset(
        self, push_backend, make_push_backend
    ):
        """A position issued by another backend (another epoch) is lost history: reset."""
        other = await make(make_push_backend)
        channel = new_channel()
        foreign = await other.publish(channel, '"elsewhere"')
        sent = await publish_all(push_backend, channel, ['"a"', '"b"'])
        assert flat(await push_backend.read(channel, foreign)) == (
            sent,
            sent[-1].position,
            True,
        )

    async def test_position_after_a_restart_gets_a_reset_on_an_empty_channel(
        self, push_backend, make_push_backend
    ):
        """A position from before a restart is reset even when the channel is empty."""
        before = await make(make_push_backend)
        channel = new_channel()
        position = await before.publish(channel, '"before the restart"')
        result = await push_backend.read(channel, position)
        assert (list(result.messages), result.reset) == ([], True)
        [after] = await publish_all(push_backend, channel, ['"after"'])
        assert flat(await push_backend.read(channel, result.position)) == (
            [after],
            after.position,
            False,
        )

    @pytest.mark.parametrize(
        "forge",
        [
            pytest.param(lambda real: "garbage", id="word"),
            pytest.param(lambda real: "", id="empty"),
            pytest.param(lambda real: "0-0", id="zero-id"),
            pytest.param(lambda real: "-1", id="negative"),
            pytest.param(lambda real: "99999999999999-99999999", id="far-future"),
            pytest.param(lambda real: real + "x", id="suffix-letter"),
            pytest.param(lambda real: real + "0000000", id="suffix-digits"),
            pytest.param(lambda real: real + "\u00b3", id="suffix-superscript-digit"),
            pytest.param(lambda real: real + "\u0663", id="suffix-arabic-digit"),
            pytest.param(lambda real: "x" * 1000, id="long"),
        ],
    )
    async def test_forged_position_gets_a_reset(self, push_backend, forge):
        """A position this backend never issued is lost history: a reset, never an error."""
        channel = new_channel()
        sent = await publish_all(push_backend, channel, ['"a"', '"b"'])
        forged = forge(sent[0].position)
        assert flat(await push_backend.read(channel, forged)) == (
            sent,
            sent[-1].position,
            True,
        )

    async def test_wait_returns_at_once_for_a_position_that_needs_a_reset(
        self, push_backend, make_push_backend
    ):
        """Waiting with a foreign position returns True at once, so a reset is read."""
        other = await make(make_push_backend)
        channel = new_channel()
        foreign = await other.publish(channel, '"elsewhere"')
        await push_backend.publish(channel, '"here"')
        async with asyncio.timeout(PROMPTLY):
            assert await push_backend.wait({channel: foreign}, LONG_WAIT) is True

    # --- newest_position --------------------------------------------------------------

    async def test_newest_position_of_an_unused_channel_is_none(self, push_backend):
        """A channel that never had a message has no newest position."""
        assert await push_backend.newest_position(new_channel()) is None

    async def test_newest_position_is_the_last_published(self, push_backend):
        """It is the position of the newest message, and reading after it waits for more."""
        channel = new_channel()
        sent = await publish_all(push_backend, channel, ['"a"', '"b"', '"c"'])
        newest = await push_backend.newest_position(channel)
        assert newest == sent[-1].position
        assert flat(await push_backend.read(channel, newest)) == ([], newest, False)
        [later] = await publish_all(push_backend, channel, ['"d"'])
        assert flat(await push_backend.read(channel, newest)) == (
            [later],
            later.position,
            False,
        )

    async def test_newest_position_refuses_an_invalid_channel(self, push_backend):
        """An invalid channel name is a ValueError."""
        with pytest.raises(ValueError, match="invalid channel name"):
            await push_backend.newest_position("has space")

    # --- wait -------------------------------------------------------------------------

    async def test_wait_returns_at_once_when_news_exist(self, push_backend):
        """wait returns True at once when messages after the position already exist."""
        channel = new_channel()
        sent = await publish_all(push_backend, channel, ['"a"', '"b"'])
        async with asyncio.timeout(PROMPTLY):
            assert await push_backend.wait({channel: None}, LONG_WAIT) is True
            assert await push_backend.wait({channel: sent[0].position}, LONG_WAIT) is True

    async def test_wait_times_out_with_false(self, push_backend):
        """wait returns False after its timeout when nothing new arrives."""
        channel = new_channel()
        [last] = await publish_all(push_backend, channel, ['"seen"'])
        started = time.monotonic()
        async with asyncio.timeout(PROMPTLY + 0.2):
            assert await push_backend.wait({channel: last.position}, 0.2) is False
        assert time.monotonic() - started >= 0.19

    async def test_wait_on_an_unused_channel_times_out(self, push_backend):
        """Waiting on a channel nobody published to returns False at the timeout."""
        async with asyncio.timeout(PROMPTLY):
            assert await push_backend.wait({new_channel(): None}, 0.1) is False

    async def test_wait_with_zero_timeout_returns_promptly(self, push_backend):
        """A zero timeout returns False at once when nothing is new."""
        async with asyncio.timeout(PROMPTLY):
            assert await push_backend.wait({new_channel(): None}, 0) is False

    async def test_wait_wakes_on_publish_from_another_task(self, push_backend):
        """A waiter is woken by a publish from another task, long before its timeout."""
        channel = new_channel()
        [last] = await publish_all(push_backend, channel, ['"seen"'])
        waiter = asyncio.create_task(push_backend.wait({channel: last.position}, LONG_WAIT))
        try:
            await asyncio.sleep(0.05)  # let the waiter block first
            assert not waiter.done()
            await push_backend.publish(channel, '"news"')
            async with asyncio.timeout(PROMPTLY):
                assert await waiter is True
        finally:
            waiter.cancel()

    async def test_wait_on_a_never_used_channel_wakes_on_first_publish(self, push_backend):
        """A waiter on a still empty channel (position None) wakes on its first message."""
        channel = new_channel()
        waiter = asyncio.create_task(push_backend.wait({channel: None}, LONG_WAIT))
        try:
            await asyncio.sleep(0.05)
            assert not waiter.done()
            await push_backend.publish(channel, '"first"')
            async with asyncio.timeout(PROMPTLY):
                assert await waiter is True
        finally:
            waiter.cancel()

    async def test_wait_on_several_channels_wakes_on_any(self, push_backend):
        """A waiter on several channels wakes when any one of them gets a message."""
        quiet, busy = new_channel("quiet"), new_channel("busy")
        [seen] = await publish_all(push_backend, quiet, ['"seen"'])
        waiter = asyncio.create_task(
            push_backend.wait({quiet: seen.position, busy: None}, LONG_WAIT)
        )
        try:
            await asyncio.sleep(0.05)
            assert not waiter.done()
            await push_backend.publish(busy, '"news"')
            async with asyncio.timeout(PROMPTLY):
                assert await waiter is True
        finally:
            waiter.cancel()

    async def test_several_waiters_all_wake(self, push_backend):
        """Every task waiting on a channel is woken by one publish."""
        channel = new_channel()
        waiters = [
            asyncio.create_task(push_backend.wait({channel: None}, LONG_WAIT))
            for _ in range(5)
        ]
        try:
            await asyncio.sleep(0.05)
            await push_backend.publish(channel, '"news"')
            async with asyncio.timeout(PROMPTLY):
                assert await asyncio.gather(*waiters) == [True] * 5
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def test_publish_to_another_channel_does_not_wake(self, push_backend):
        """A publish on a channel the waiter does not watch leaves it waiting."""
        watched, other = new_channel("watched"), new_channel("other")
        waiter = asyncio.create_task(push_backend.wait({watched: None}, 0.3))
        try:
            await asyncio.sleep(0.05)
            await push_backend.publish(other, '"elsewhere"')
            async with asyncio.timeout(PROMPTLY):
                assert await waiter is False
        finally:
            waiter.cancel()

    async def test_cancelled_wait_leaves_the_backend_usable(self, push_backend):
        """Cancelling a waiter does not disturb later publishes and waits."""
        channel = new_channel()
        cancelled = asyncio.create_task(push_backend.wait({channel: None}, LONG_WAIT))
        await asyncio.sleep(0.05)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        waiter = asyncio.create_task(push_backend.wait({channel: None}, LONG_WAIT))
        try:
            await asyncio.sleep(0.05)
            await push_backend.publish(channel, '"news"')
            async with asyncio.timeout(PROMPTLY):
                assert await waiter is True
        finally:
            waiter.cancel()

    # --- sequences and the client lock -------------------------------------------------

    async def test_last_sequence_of_an_unknown_client_is_zero(self, push_backend):
        """A client that never sent has recorded sequence 0."""
        assert await push_backend.last_sequence(new_client()) == 0

    async def test_publish_sequenced_records_new_and_refuses_old(self, push_backend):
        """A seq above the recorded one is recorded (positions returned); others: None."""
        client = new_client()
        results = [
            await push_backend.publish_sequenced(client, seq, [])
            for seq in (1, 1, 2, 5, 3, 5, 6)
        ]
        assert results == [[], None, [], [], None, None, []]
        assert await push_backend.last_sequence(client) == 6

    async def test_last_sequence_in_the_lock_follows_the_records(self, push_backend):
        """Inside client_lock, last_sequence sees the recorded seq, and each new record."""
        client, other = new_client(), new_client()
        await push_backend.publish_sequenced(client, 3, [])
        await push_backend.publish_sequenced(other, 9, [])
        async with push_backend.client_lock(client):
            assert await push_backend.last_sequence(client) == 3
            assert await push_backend.last_sequence(other) == 9
            assert await push_backend.publish_sequenced(client, 4, []) == []
            assert await push_backend.last_sequence(client) == 4
            assert await push_backend.publish_sequenced(client, 4, []) is None
            assert await push_backend.last_sequence(client) == 4
        async with push_backend.client_lock(client):
            assert await push_backend.last_sequence(client) == 4
        assert await push_backend.last_sequence(client) == 4

    async def test_publish_sequenced_publishes_with_the_record(self, push_backend):
        """The entries land in their channels, in order, when the seq is new."""
        client, channel = new_client(), new_channel()
        positions = await push_backend.publish_sequenced(
            client, 1, [(channel, '"a"'), (channel, '"b"')]
        )
        result = await push_backend.read(channel, None)
        assert [m.position for m in result.messages] == positions
        assert [m.payload for m in result.messages] == ['"a"', '"b"']

    async def test_publish_sequenced_duplicate_publishes_nothing(self, push_backend):
        """A refused seq publishes none of its entries."""
        client, channel = new_client(), new_channel()
        await push_backend.publish_sequenced(client, 2, [])
        assert await push_backend.publish_sequenced(client, 2, [(channel, '"x"')]) is None
        assert flat(await push_backend.read(channel, None)) == ([], None, False)

    async def test_publish_sequenced_bad_channel_records_nothing(self, push_backend):
        """An invalid channel name raises ValueError and leaves the sequence as it was."""
        client = new_client()
        with pytest.raises(ValueError):
            await push_backend.publish_sequenced(client, 1, [("bad channel", '"x"')])
        assert await push_backend.last_sequence(client) == 0

    async def test_sequences_are_per_client(self, push_backend):
        """Each client has its own recorded sequence."""
        first, second = new_client(), new_client()
        assert await push_backend.publish_sequenced(first, 7, []) == []
        assert await push_backend.publish_sequenced(second, 1, []) == []
        assert await push_backend.publish_sequenced(second, 7, []) == []
        assert await push_backend.publish_sequenced(first, 7, []) is None

    async def test_publish_sequenced_is_atomic(self, push_backend):
        """Of 20 concurrent calls with the same seq, exactly one publishes."""
        client, channel = new_client(), new_channel()
        results = await asyncio.gather(
            *(
                push_backend.publish_sequenced(client, 1, [(channel, f'"{n}"')])
                for n in range(20)
            )
        )
        assert sum(r is not None for r in results) == 1
        assert len((await push_backend.read(channel, None)).messages) == 1

    async def test_sequences_do_not_touch_channels(self, push_backend):
        """Recording a client's seq publishes nothing to its channel."""
        client = new_client()
        assert await push_backend.publish_sequenced(client, 1, []) == []
        assert flat(await push_backend.read(f"client:{client}", None)) == ([], None, False)

    async def test_client_lock_serialises_one_client(self, push_backend):
        """Two holders of one client's lock never overlap; the second waits its turn."""
        client = new_client()
        trace = []

        async def hold(name):
            async with push_backend.client_lock(client):
                trace.append(f"{name}.in")
                await asyncio.sleep(0.05)
                trace.append(f"{name}.out")

        async with asyncio.timeout(LONG_WAIT):
            await asyncio.gather(hold("a"), hold("b"))
        assert trace in (
            ["a.in", "a.out", "b.in", "b.out"],
            ["b.in", "b.out", "a.in", "a.out"],
        )

    async def test_client_lock_does_not_block_other_clients(self, push_backend):
        """Holding one client's lock leaves another client's free."""
        first, second = new_client(), new_client()
        async with push_backend.client_lock(first):
            async with asyncio.timeout(PROMPTLY):
                async with push_backend.client_lock(second):
                    pass

    async def test_client_lock_is_released_on_error(self, push_backend):
        """An exception inside the lock releases it."""
        client = new_client()
        with pytest.raises(RuntimeError):
            async with push_backend.client_lock(client):
                raise RuntimeError("boom")
        async with asyncio.timeout(PROMPTLY):
            async with push_backend.client_lock(client):
                pass

    async def test_client_lock_of_a_revoked_session_is_refused(self, push_backend):
        """A lock asked for a revoked session raises SessionRevokedError and is not
        taken; another session's lock for the same client is."""
        client, revoked = new_client(), new_session()
        await push_backend.revoke_session(revoked, 30)
        entered = False
        with pytest.raises(SessionRevokedError):
            async with push_backend.client_lock(client, session=revoked):
                entered = True
        assert entered is False
        async with asyncio.timeout(PROMPTLY):
            async with push_backend.client_lock(client, session=new_session()):
                assert await push_backend.last_sequence(client) == 0

    async def test_a_final_publish_leaves_the_lock_free_for_the_next_holder(
        self, push_backend
    ):
        """publish_sequenced(final=True) records and publishes as ever; the lock is
        free for the next holder once the first leaves it."""
        client, channel = new_client(), new_channel()
        async with push_backend.client_lock(client):
            positions = await push_backend.publish_sequenced(
                client, 1, [(channel, '"last"')], final=True
            )
        assert positions is not None and len(positions) == 1
        async with asyncio.timeout(PROMPTLY):
            async with push_backend.client_lock(client):
                assert await push_backend.last_sequence(client) == 1
                assert (
                    await push_backend.publish_sequenced(client, 1, [], final=True) is None
                )
        read = await push_backend.read(channel, None)
        assert [m.payload for m in read.messages] == ['"last"']

    # --- presence leases --------------------------------------------------------------

    async def test_renew_presence_tells_a_new_lease_from_a_renewal(self, push_backend):
        """The first renewal of a client's lease returns True, the next ones False."""
        client = new_client()
        assert await push_backend.renew_presence(client, "data", 30) is True
        assert await push_backend.renew_presence(client, "data", 30) is False

    async def test_a_live_lease_is_not_claimed(self, push_backend):
        """A lease that has not lapsed is never handed to claim_lapsed."""
        client = new_client()
        await push_backend.renew_presence(client, "alive", 30)
        assert client not in dict(await push_backend.claim_lapsed(1000))

    async def test_a_lapsed_lease_is_claimed_once_with_its_data(self, push_backend):
        """A lapsed lease is returned once, with the latest data, then it is gone."""
        client = new_client()
        await push_backend.renew_presence(client, "first", 0.1)
        await push_backend.renew_presence(client, '{"latest":true}', 0.1)
        await asyncio.sleep(0.2)
        claimed = await push_backend.claim_lapsed(1000)
        assert [d for c, d in claimed if c == client] == ['{"latest":true}']
        assert client not in dict(await push_backend.claim_lapsed(1000))

    async def test_a_lease_renewed_for_no_time_lapses_at_once(self, push_backend):
        """A ttl of 0 makes a live lease claimable at once (how a client ends now)."""
        client = new_client()
        await push_backend.renew_presence(client, "alive", 30)
        assert await push_backend.renew_presence(client, "ended", 0) is False
        claimed = await push_backend.claim_lapsed(1000)
        assert [d for c, d in claimed if c == client] == ["ended"]

    async def test_renewal_keeps_a_lease_alive(self, push_backend):
        """A lease renewed before it lapses is not claimed."""
        client = new_client()
        await push_backend.renew_presence(client, "x", 0.3)
        for _ in range(3):
            await asyncio.sleep(0.15)
            assert await push_backend.renew_presence(client, "x", 0.3) is False
            assert client not in dict(await push_backend.claim_lapsed(1000))

    async def test_concurrent_claimers_get_each_lapsed_lease_once(self, push_backend):
        """Of several concurrent sweeps, exactly one gets each lapsed lease."""
        clients = [new_client() for _ in range(10)]
        for client in clients:
            await push_backend.renew_presence(client, client, 0.05)
        await asyncio.sleep(0.15)
        sweeps = await asyncio.gather(*(push_backend.claim_lapsed(1000) for _ in range(5)))
        claimed = [c for sweep in sweeps for c, _ in sweep if c in clients]
        assert sorted(claimed) == sorted(clients)

    async def test_claim_lapsed_respects_its_limit(self, push_backend):
        """claim_lapsed returns at most ``limit`` leases; the rest come next time."""
        clients = {new_client() for _ in range(3)}
        for client in clients:
            await push_backend.renew_presence(client, "", 0.05)
        await asyncio.sleep(0.15)
        claimed: set[str] = set()
        for _ in range(10):
            batch = [c for c, _ in await push_backend.claim_lapsed(1) if c in clients]
            assert len(batch) <= 1
            claimed.update(batch)
            if claimed == clients:
                break
        assert claimed == clients

    async def test_an_unsettled_claim_is_handed_out_again_after_its_lease(
        self, push_backend
    ):
        """A claim not acknowledged in time (its claimer died) goes to the next sweep."""
        client = new_client()
        await push_backend.renew_presence(client, "gone", 0.05)
        await asyncio.sleep(0.15)
        assert "gone" in dict(await push_backend.claim_lapsed(1000, lease=0.2)).values()
        assert client not in dict(await push_backend.claim_lapsed(1000, lease=0.2))
        await asyncio.sleep(0.3)
        assert dict(await push_backend.claim_lapsed(1000, lease=30)).get(client) == "gone"

    async def test_a_settled_claim_is_never_handed_out_again(self, push_backend):
        """After ack_lapsed, a claim does not come back, even past its lease."""
        client = new_client()
        await push_backend.renew_presence(client, "", 0.05)
        await asyncio.sleep(0.15)
        assert client in dict(await push_backend.claim_lapsed(1000, lease=0.1))
        await push_backend.ack_lapsed(client)
        await asyncio.sleep(0.2)
        assert client not in dict(await push_backend.claim_lapsed(1000))

    async def test_a_client_back_while_claimed_keeps_its_new_lease(self, push_backend):
        """Settling the old claim of a client that came back leaves its new lease alone."""
        client = new_client()
        await push_backend.renew_presence(client, "old", 0.05)
        await asyncio.sleep(0.15)
        assert client in dict(await push_backend.claim_lapsed(1000))
        assert await push_backend.renew_presence(client, "new", 0.1) is True
        await push_backend.ack_lapsed(client)
        await asyncio.sleep(0.2)
        assert dict(await push_backend.claim_lapsed(1000)).get(client) == "new"

    async def test_a_claimed_client_that_returns_is_new_again(self, push_backend):
        """After its lapsed lease was claimed, a client's next renewal is new."""
        client = new_client()
        await push_backend.renew_presence(client, "", 0.05)
        await asyncio.sleep(0.15)
        assert client in dict(await push_backend.claim_lapsed(1000))
        assert await push_backend.renew_presence(client, "", 30) is True

    # --- group membership -------------------------------------------------------------

    async def test_add_member_is_true_only_when_new(self, push_backend):
        """add_member answers True for a new member and False when it already was one."""
        group, client = new_channel("group"), new_client()
        assert await push_backend.add_member(group, client) is True
        assert await push_backend.add_member(group, client) is False
        assert await push_backend.members(group) == [client]

    async def test_members_are_sorted_and_complete(self, push_backend):
        """members() lists every member exactly once, sorted."""
        group = new_channel("group")
        clients = [new_client() for _ in range(5)]
        for client in clients:
            await push_backend.add_member(group, client)
        await push_backend.add_member(group, clients[0])
        assert await push_backend.members(group) == sorted(clients)

    async def test_count_members_counts_each_member_once(self, push_backend):
        """count_members() is the number of members: 0 for an unknown group, each
        member once, less one after a leave."""
        group = new_channel("group")
        assert await push_backend.count_members(group) == 0
        clients = [new_client() for _ in range(3)]
        for client in [*clients, clients[0]]:
            await push_backend.add_member(group, client)
        assert await push_backend.count_members(group) == 3
        await push_backend.remove_member(group, clients[1])
        assert await push_backend.count_members(group) == 2

    async def test_remove_member_is_true_only_when_it_was_a_member(self, push_backend):
        """remove_member answers True once for a member, then False."""
        group, client, other = new_channel("group"), new_client(), new_client()
        await push_backend.add_member(group, client)
        await push_backend.add_member(group, other)
        assert await push_backend.remove_member(group, client) is True
        assert await push_backend.remove_member(group, client) is False
        assert await push_backend.members(group) == [other]

    async def test_remove_from_an_unknown_group_is_false(self, push_backend):
        """Removing from a group that never had members answers False."""
        assert await push_backend.remove_member(new_channel("group"), new_client()) is False

    async def test_unknown_group_has_no_members(self, push_backend):
        """A group nobody joined has no members."""
        assert await push_backend.members(new_channel("group")) == []

    async def test_last_member_leaving_empties_the_group(self, push_backend):
        """When the last member leaves, the group has no members and can be joined again."""
        group, client = new_channel("group"), new_client()
        await push_backend.add_member(group, client)
        await push_backend.remove_member(group, client)
        assert await push_backend.members(group) == []
        assert await push_backend.memberships(client) == []
        assert await push_backend.add_member(group, client) is True

    async def test_memberships_follow_joins_and_leaves(self, push_backend):
        """memberships() lists the client's groups, sorted, as joins and leaves change."""
        client = new_client()
        groups = [new_channel("group") for _ in range(3)]
        assert await push_backend.memberships(client) == []
        for group in groups:
            await push_backend.add_member(group, client)
        assert await push_backend.memberships(client) == sorted(groups)
        await push_backend.remove_member(groups[1], client)
        assert await push_backend.memberships(client) == sorted([groups[0], groups[2]])

    async def test_memberships_are_per_client(self, push_backend):
        """One client's groups are not another's."""
        group, client, other = new_channel("group"), new_client(), new_client()
        await push_backend.add_member(group, client)
        assert await push_backend.memberships(other) == []

    async def test_membership_does_not_touch_channels(self, push_backend):
        """Joining a group publishes nothing to the channel of the same name."""
        group = new_channel("group")
        await push_backend.add_member(group, new_client())
        assert flat(await push_backend.read(group, None)) == ([], None, False)

    async def test_concurrent_joins_count_once(self, push_backend):
        """Of many concurrent add_member calls for one client, exactly one is new."""
        group, client = new_channel("group"), new_client()
        async with asyncio.timeout(LONG_WAIT):
            answers = await asyncio.gather(
                *(push_backend.add_member(group, client) for _ in range(10))
            )
        assert sorted(answers) == [False] * 9 + [True]
        assert await push_backend.members(group) == [client]

    @pytest.mark.parametrize("group", ["", "has space", "x" * 201])
    async def test_invalid_group_names_are_refused(self, push_backend, group):
        """Group names follow the channel name rule: others are a ValueError."""
        client = new_client()
        with pytest.raises(ValueError):
            await push_backend.add_member(group, client)
        with pytest.raises(ValueError):
            await push_backend.remove_member(group, client)
        with pytest.raises(ValueError):
            await push_backend.members(group)

    # --- operators' reads: groups and presence ----------------------------------------

    async def test_groups_lists_the_groups_with_members_sorted(self, push_backend):
        """groups() lists each group with members once, sorted; an emptied group goes."""
        prefix = new_channel("listed") + ":"
        names = [f"{prefix}{n}" for n in ("b", "a", "c")]
        client = new_client()
        for name in names:
            await push_backend.add_member(name, client)
            await push_backend.add_member(name, new_client())
        await push_backend.add_member(new_channel("other"), client)
        assert await push_backend.groups(prefix) == sorted(names)
        assert await push_backend.count_groups(prefix) == 3
        for member in await push_backend.members(names[1]):
            await push_backend.remove_member(names[1], member)
        assert await push_backend.groups(prefix) == sorted([names[0], names[2]])
        assert await push_backend.count_groups(prefix) == 2

    async def test_groups_pages_with_after_and_limit(self, push_backend):
        """A page holds at most ``limit`` names; ``after`` the last one gives the next."""
        prefix = new_channel("paged") + ":"
        names = sorted(f"{prefix}{n:02d}" for n in range(7))
        for name in names:
            await push_backend.add_member(name, new_client())
        first = await push_backend.groups(prefix, limit=3)
        second = await push_backend.groups(prefix, after=first[-1], limit=3)
        third = await push_backend.groups(prefix, after=second[-1], limit=3)
        assert (first, second, third) == (names[:3], names[3:6], names[6:])
        assert await push_backend.groups(prefix, after=names[-1]) == []

    async def test_groups_of_an_unused_prefix_are_none(self, push_backend):
        """No group starts with a prefix nobody used."""
        prefix = new_channel("unused") + ":"
        assert await push_backend.groups(prefix) == []
        assert await push_backend.count_groups(prefix) == 0

    @pytest.mark.parametrize("limit", [0, -1, 1.5, True])
    async def test_groups_refuses_a_bad_limit(self, push_backend, limit):
        """The limit is a positive integer: anything else is a ValueError."""
        with pytest.raises(ValueError):
            await push_backend.groups(limit=limit)

    async def test_present_tells_live_leases_in_one_read(self, push_backend):
        """present() returns the clients whose leases are live, and no others."""
        live, lapsed, unknown = new_client(), new_client(), new_client()
        await push_backend.renew_presence(live, "", 30)
        await push_backend.renew_presence(lapsed, "", 0.0)
        assert await push_backend.present([live, lapsed, unknown]) == {live}
        assert await push_backend.present([]) == set()

    async def test_count_present_counts_live_leases_only(self, make_push_backend):
        """count_present() counts the live leases, not the lapsed or claimed ones."""
        backend = await make(make_push_backend)
        assert await backend.count_present() == 0
        for _ in range(3):
            await backend.renew_presence(new_client(), "", 30)
        gone = new_client()
        await backend.renew_presence(gone, "", 0.0)
        assert await backend.count_present() == 3
        assert [c for c, _ in await backend.claim_lapsed(1000)] == [gone]
        assert await backend.count_present() == 3

    # --- session revocations ----------------------------------------------------------

    async def test_a_session_never_revoked_is_not_revoked(self, push_backend):
        """session_revoked is False for a session nobody revoked."""
        assert await push_backend.session_revoked(new_session()) is False

    async def test_a_revoked_session_is_revoked_and_no_other(self, push_backend):
        """After revoke_session, that session is revoked at once; others are not."""
        session, other = new_session(), new_session()
        await push_backend.revoke_session(session, 30)
        assert await push_backend.session_revoked(session) is True
        assert await push_backend.session_revoked(other) is False

    async def test_a_revocation_lapses_after_its_ttl(self, push_backend):
        """A revocation lasts its ttl, then the record is gone."""
        session = new_session()
        await push_backend.revoke_session(session, 0.2)
        assert await push_backend.session_revoked(session) is True
        await asyncio.sleep(0.4)
        assert await push_backend.session_revoked(session) is False

    async def test_revoking_again_restarts_the_ttl(self, push_backend):
        """A second revoke_session of one session lasts its own ttl from then."""
        session = new_session()
        await push_backend.revoke_session(session, 0.2)
        await push_backend.revoke_session(session, 30)
        await asyncio.sleep(0.4)
        assert await push_backend.session_revoked(session) is True

    async def test_revocations_do_not_touch_channels_or_leases(self, push_backend):
        """A revocation publishes nothing and claims no lease."""
        channel, session = new_channel(), new_session()
        await push_backend.revoke_session(session, 30)
        assert flat(await push_backend.read(channel, None)) == ([], None, False)
        assert session not in dict(await push_backend.claim_lapsed(1000))

    # --- lifecycle --------------------------------------------------------------------

    async def test_ping_succeeds_and_check_returns_a_list(self, push_backend):
        """A reachable backend pings without error and its check() returns a list."""
        await push_backend.ping()
        assert isinstance(push_backend.check(), list)

    @pytest.mark.parametrize(
        "options",
        [
            {"capacity": 0},
            {"capacity": -1},
            {"capacity": 1.5},
            {"capacity": True},
            {"capacity": "10"},
            {"max_age": 0},
            {"max_age": -1.0},
            {"max_age": True},
            {"max_age": "60"},
        ],
    )
    async def test_bad_retention_options_are_refused(self, make_push_backend, options):
        """A non-positive or non-numeric capacity or max_age is refused with ValueError."""
        [name] = options
        with pytest.raises(ValueError, match=name):
            await make(make_push_backend, **options)
