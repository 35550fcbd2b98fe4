"""ChannelTails: what announcements tell one process about its readers' channels, and
when it must say "ask Redis" instead."""

from __future__ import annotations

import time

from thywill.push.base import ReadResult
from thywill.push.tails import Announced, ChannelTails

CHANNEL = "room"


def message(entry: int, previous: int | None, payload: str | None = '"x"') -> Announced:
    """The announcement of entry ``<entry>-0`` of CHANNEL, epoch "e", after
    ``<previous>-0`` (None: the channel's first)."""
    before = "" if previous is None else f"{previous}-0"
    return Announced(CHANNEL, "e", before, f"{entry}-0", payload)


def positions(result: ReadResult | None) -> list[str] | None:
    return None if result is None else [m.position for m in result.messages]


def known_at(entry: int, **bounds: int | float) -> ChannelTails:
    """Tails that follow CHANNEL, whose newest message a complete read found at
    ``<entry>-0``."""
    tails = ChannelTails(**bounds)  # type: ignore[arg-type]
    assert tails.read(CHANNEL, None, 100) is None  # follows it
    tails.settle(CHANNEL, f"e-{entry}-0", tails.generation)
    return tails


def test_an_unknown_channel_is_read_from_redis():
    tails = ChannelTails()
    assert tails.read(CHANNEL, None, 100) is None
    assert tails.has_news(CHANNEL, "e-1-0") is None
    assert tails.has_news("never-read", None) is None


def test_a_channel_found_empty_reads_empty_until_a_message_comes():
    tails = ChannelTails()
    tails.read(CHANNEL, None, 100)
    tails.settle(CHANNEL, None, tails.generation)
    assert tails.read(CHANNEL, None, 100) == ReadResult([], None)
    assert tails.has_news(CHANNEL, None) is False
    tails.learn(message(1, None, '"first"'))
    assert tails.has_news(CHANNEL, None) is True
    read = tails.read(CHANNEL, None, 100)
    assert read is not None
    assert [(m.position, m.payload) for m in read.messages] == [("e-1-0", '"first"')]
    assert read.position == "e-1-0"


def test_announced_messages_chain_from_the_newest_read():
    tails = known_at(1)
    assert tails.has_news(CHANNEL, "e-1-0") is False
    for entry in (2, 3, 4):
        tails.learn(message(entry, entry - 1))
    assert tails.has_news(CHANNEL, "e-1-0") is True
    assert positions(tails.read(CHANNEL, "e-1-0", 100)) == ["e-2-0", "e-3-0", "e-4-0"]
    assert positions(tails.read(CHANNEL, "e-2-0", 100)) == ["e-3-0", "e-4-0"]
    assert positions(tails.read(CHANNEL, "e-1-0", 2)) == ["e-2-0", "e-3-0"]
    assert tails.read(CHANNEL, "e-4-0", 100) == ReadResult([], "e-4-0")
    # Before what is held, or in another epoch: only Redis knows.
    assert tails.read(CHANNEL, "e-0-5", 100) is None
    assert tails.read(CHANNEL, "other-1-0", 100) is None
    assert tails.read(CHANNEL, None, 100) is None


def test_a_message_that_does_not_follow_the_newest_restarts_the_run():
    tails = known_at(1)
    tails.learn(message(5, 4))  # 2 to 4 were missed: the chain is broken
    assert tails.read(CHANNEL, "e-1-0", 100) is None
    assert positions(tails.read(CHANNEL, "e-4-0", 100)) == ["e-5-0"]


def test_an_announcement_older_than_a_read_is_ignored():
    tails = known_at(3)
    tails.learn(message(2, 1))
    tails.learn(message(3, 2))
    assert tails.read(CHANNEL, "e-3-0", 100) == ReadResult([], "e-3-0")
    assert tails.read(CHANNEL, "e-1-0", 100) is None


def test_a_read_that_found_less_than_the_tails_changes_nothing():
    tails = known_at(1)
    tails.learn(message(2, 1))
    tails.settle(CHANNEL, "e-1-0", tails.generation)  # sent before 2 was published
    assert positions(tails.read(CHANNEL, "e-1-0", 100)) == ["e-2-0"]


def test_a_read_that_found_more_starts_from_it():
    tails = known_at(1)
    tails.learn(message(2, 1))
    tails.settle(CHANNEL, "e-7-0", tails.generation)  # 3 to 7 not announced yet
    assert tails.read(CHANNEL, "e-1-0", 100) is None
    assert tails.read(CHANNEL, "e-7-0", 100) == ReadResult([], "e-7-0")


def test_another_epoch_or_a_channel_gone_empty_is_unknown():
    tails = known_at(1)
    tails.settle(CHANNEL, "f-9-0", tails.generation)
    assert tails.has_news(CHANNEL, "e-1-0") is None
    tails = known_at(1)
    tails.settle(CHANNEL, None, tails.generation)  # its history expired
    assert tails.has_news(CHANNEL, "e-1-0") is None


def test_a_message_announced_without_its_payload_is_read_from_redis():
    tails = known_at(1)
    tails.learn(message(2, 1, payload=None))
    assert tails.has_news(CHANNEL, "e-1-0") is None
    assert tails.read(CHANNEL, "e-1-0", 100) is None
    assert tails.read(CHANNEL, "e-2-0", 100) == ReadResult([], "e-2-0")
    tails.learn(message(3, 2))
    assert positions(tails.read(CHANNEL, "e-2-0", 100)) == ["e-3-0"]


def test_forgetting_drops_everything_and_ignores_replies_sent_before():
    tails = known_at(1)
    before = tails.generation
    tails.learn(message(2, 1, '"abc"'))
    tails.forget()
    assert len(tails) == 0 and tails.size == 0
    assert tails.read(CHANNEL, "e-1-0", 100) is None
    tails.settle(CHANNEL, "e-2-0", before)  # a read sent before the break
    tails.learn(message(3, 2), before)  # an own publish sent before the break
    assert tails.has_news(CHANNEL, "e-2-0") is None


def test_messages_of_channels_nobody_reads_are_not_kept():
    tails = ChannelTails()
    tails.learn(Announced("nobody-reads-this", "e", "", "1-0", '"x"'))
    assert len(tails) == 0 and tails.size == 0


def test_each_channel_holds_at_most_max_messages():
    tails = known_at(1, max_messages=3)
    for entry in range(2, 7):
        tails.learn(message(entry, entry - 1, '"ab"'))
    assert positions(tails.read(CHANNEL, "e-3-0", 100)) == ["e-4-0", "e-5-0", "e-6-0"]
    assert tails.read(CHANNEL, "e-2-0", 100) is None
    assert tails.size == 3 * len('"ab"')


def test_past_max_channels_the_least_recently_read_goes():
    tails = ChannelTails(max_channels=2)
    for channel in ("a", "b"):
        tails.read(channel, None, 100)
    tails.has_news("a", None)  # a was read more recently than b
    tails.read("c", None, 100)
    assert len(tails) == 2
    assert tails.has_news("b", None) is None
    tails.settle("a", None, tails.generation)
    assert tails.has_news("a", None) is False


def test_past_max_bytes_channels_are_forgotten_until_it_fits():
    tails = ChannelTails(max_bytes=10)
    for channel in ("a", "b"):
        tails.read(channel, None, 100)
        tails.settle(channel, None, tails.generation)
        tails.learn(Announced(channel, "e", "", "1-0", '"1234"'))  # 6 characters
    assert tails.size <= 10
    assert tails.has_news("a", None) is None
    assert tails.has_news("b", None) is True


def test_a_channel_nobody_read_for_idle_seconds_is_forgotten():
    tails = known_at(1, idle=0.05)
    tails.learn(message(2, 1))
    time.sleep(0.1)
    tails.read("another", None, 100)
    assert len(tails) == 1
    assert tails.has_news(CHANNEL, "e-1-0") is None
    assert tails.size == 0
