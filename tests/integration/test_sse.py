"""Server-Sent Events against real server processes: events, resume, resets, keep-alive."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator

import pytest

from tests.live import LiveServer
from tests.support.http_client import (
    PollResult,
    SseComment,
    SseEvent,
    ThywillHttpClient,
    count_events,
    data_of,
    message_data,
)

pytestmark = pytest.mark.live


@pytest.fixture
def tab(live_url: str) -> Iterator[ThywillHttpClient]:
    """A bootstrapped echo tab on the shared server, forced to SSE."""
    with ThywillHttpClient(live_url) as client:
        client.bootstrap(transport="sse")
        yield client


@pytest.fixture(scope="module")
def chatty_live(live_factory: Callable[..., LiveServer]) -> LiveServer:
    """A server that sends a keep-alive after 0.5 s without another event."""
    return live_factory(THYWILL_TEST_SSE_KEEPALIVE="0.5")


def kinds(events: list[SseEvent]) -> list[str]:
    """The type of each event, in order."""
    return [event.event for event in events]


def assert_nothing_more(tab: ThywillHttpClient, cursor: str) -> None:
    """Nothing is left to deliver after ``cursor`` (checked without waiting)."""
    assert tab.longpoll(cursor, wait=False) == PollResult([], cursor, None)


def test_round_trip_delivers_each_message_once_in_order(tab: ThywillHttpClient) -> None:
    """Messages sent in several batches arrive as one open event and then in order, once."""
    sent = [{"n": n} for n in range(10)]
    tab.send(*sent[:6])
    tab.send(*sent[6:])

    events = tab.sse_events(until=count_events("message", len(sent)))

    assert kinds(events) == ["open"] + ["message"] * len(sent)
    assert events[0].json() == {"cursor": ""}
    assert events[0].id == ""
    assert message_data(events) == sent
    assert [e.json()["channel"] for e in events[1:]] == [tab.channel] * len(sent)
    assert tab.resets == []
    assert_nothing_more(tab, events[-1].id or "")


def test_messages_sent_while_streaming_arrive_on_the_open_stream(
    tab: ThywillHttpClient,
) -> None:
    """A message sent while the stream is open is pushed on it at once."""
    with tab.sse_stream() as stream:
        events = stream.events()
        opened = next(events, None)
        tab.send("live")
        pushed = next(events, None)

    assert opened is not None and opened.event == "open"
    assert pushed is not None and (pushed.event, pushed.json()["data"]) == (
        "message",
        "live",
    )


@pytest.mark.parametrize("resume_by", ["last_event_id", "cursor"])
def test_resume_after_a_dropped_stream_gets_exactly_the_missed_messages(
    tab: ThywillHttpClient, resume_by: str
) -> None:
    """A stream dropped mid-batch resumes from its last event id with no loss, no repeat."""
    tab.send("a1", "a2", "a3")
    first = tab.sse_events(until=count_events("message", 2))  # hang up before a3
    assert message_data(first) == ["a1", "a2"]
    last_id = first[-1].id
    assert last_id
    tab.send("b1", "b2")

    if resume_by == "last_event_id":
        second = tab.sse_events(last_event_id=last_id, until=count_events("message", 3))
    else:
        second = tab.sse_events(cursor=last_id, until=count_events("message", 3))

    assert kinds(second) == ["open", "message", "message", "message"]
    assert (second[0].id, second[0].json()) == (last_id, {"cursor": last_id})
    assert message_data(second) == ["a3", "b1", "b2"]
    assert_nothing_more(tab, second[-1].id or "")


def test_every_event_id_resumes_right_after_its_event(tab: ThywillHttpClient) -> None:
    """Resuming from the id of any message event gives exactly the messages after it."""
    sent = ["e1", "e2", "e3", "e4"]
    tab.send(*sent)
    events = tab.sse_events(until=count_events("message", len(sent)))

    for index, event in enumerate(events[1:], start=1):
        rest = sent[index:]
        resumed = tab.sse_events(
            last_event_id=event.id, until=count_events("message", len(rest))
        )
        assert message_data(resumed) == rest


def test_last_event_id_wins_over_the_cursor_parameter(tab: ThywillHttpClient) -> None:
    """With both given, the stream resumes from ``Last-Event-ID``, not from ``cursor``."""
    tab.send("old", "new")
    events = tab.sse_events(until=count_events("message", 1))
    assert message_data(events) == ["old"]

    resumed = tab.sse_events(
        cursor="", last_event_id=events[-1].id, until=count_events("message", 1)
    )

    assert message_data(resumed) == ["new"]
    assert_nothing_more(tab, resumed[-1].id or "")


def test_restart_gives_a_reset_event_then_the_messages_published_after_it(
    live: LiveServer, live_url: str
) -> None:
    """After an in-memory backend restart, an old event id gets a reset, then the new."""
    with ThywillHttpClient(live_url) as tab:
        tab.bootstrap(transport="sse")
        tab.send("before")
        before = tab.sse_events(until=count_events("message", 1))
        assert message_data(before) == ["before"]
        old_id = before[-1].id

        live.restart()
        tab.send("after1", "after2")
        events = tab.sse_events(last_event_id=old_id, until=count_events("message", 2))

        assert kinds(events) == ["open", "reset", "message", "message"]
        assert events[1].json() == {"channels": [tab.channel], "reason": "history_lost"}
        assert message_data(events) == ["after1", "after2"]
        assert tab.resets == [events[1].json()]
        # The reset's id resumes from the first message after the lost history.
        from_reset = tab.longpoll(events[1].id, wait=False)
        assert (from_reset.reset, data_of(from_reset.messages)) == (
            None,
            ["after1", "after2"],
        )
        assert_nothing_more(tab, events[-1].id or "")


def test_trimmed_history_gives_a_reset_event_then_the_retained_messages(
    small_live: LiveServer,
) -> None:
    """An id older than the retained window gets reset + the last 5; one inside it, none."""
    with ThywillHttpClient(small_live.url) as tab:
        tab.bootstrap(transport="sse")
        tab.send("m0")
        first = tab.sse_events(until=count_events("message", 1))
        stale_id = first[-1].id
        tab.send(*[f"m{n}" for n in range(1, 11)])  # 10 more, unread: m1-m5 fall out

        trimmed = tab.sse_events(last_event_id=stale_id, until=count_events("message", 5))

        assert kinds(trimmed) == ["open", "reset"] + ["message"] * 5
        assert trimmed[1].json() == {"channels": [tab.channel], "reason": "history_lost"}
        assert message_data(trimmed) == ["m6", "m7", "m8", "m9", "m10"]

        # 5 more push m6-m10 out, yet the id after m10 is still just inside the window.
        tab.send(*[f"n{n}" for n in range(1, 6)])
        inside = tab.sse_events(
            last_event_id=trimmed[-1].id, until=count_events("message", 5)
        )

        assert kinds(inside) == ["open"] + ["message"] * 5
        assert message_data(inside) == ["n1", "n2", "n3", "n4", "n5"]


def test_stream_headers_and_opening_padding(tab: ThywillHttpClient) -> None:
    """The stream is uncached, unbuffered event-stream, opening with 2 KiB of comment."""
    with tab.sse_stream() as stream:
        assert stream.response.status_code == 200
        assert stream.headers["content-type"].split(";")[0] == "text/event-stream"
        assert stream.headers["cache-control"] == "no-cache"
        assert stream.headers["x-accel-buffering"] == "no"
        first_two = list(itertools.islice(stream.items(), 2))

    padding, opening = first_two
    assert isinstance(padding, SseComment)
    assert len(":" + padding.text) >= 2048
    assert opening == SseEvent("open", '{"cursor":""}', "")


def test_idle_stream_sends_keepalive_events(chatty_live: LiveServer) -> None:
    """An idle stream sends an id-less ``keepalive`` event every sseKeepalive seconds."""
    with ThywillHttpClient(chatty_live.url) as tab:
        tab.bootstrap(transport="sse")
        tab.send("seen")
        opened = tab.sse_events(until=count_events("message", 1))
        cursor = tab.cursor

        started = time.monotonic()
        events = tab.sse_events(until=count_events("keepalive", 2))
        elapsed = time.monotonic() - started

        assert events == [
            SseEvent("open", f'{{"cursor":"{cursor}"}}', cursor),
            SseEvent("keepalive", "{}", None),
            SseEvent("keepalive", "{}", None),
        ]
        assert 0.8 <= elapsed < 4.0
        assert tab.cursor == cursor == opened[-1].id  # keep-alives never move the cursor
