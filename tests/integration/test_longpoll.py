"""Long-poll against real server processes: order, resume, resets and timing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.live import LiveServer
from tests.support.http_client import PollResult, ThywillHttpClient, data_of

pytestmark = pytest.mark.live


@pytest.fixture
def tab(live_url: str) -> Iterator[ThywillHttpClient]:
    """A bootstrapped echo tab on the shared server, forced to long-poll."""
    with ThywillHttpClient(live_url) as client:
        client.bootstrap(transport="longpoll")
        yield client


@pytest.fixture(scope="module")
def quick_live(live_factory: Callable[..., LiveServer]) -> LiveServer:
    """A server whose long-polls give up after 1 second."""
    return live_factory(THYWILL_TEST_LONGPOLL_TIMEOUT="1")


def reset_of(tab: ThywillHttpClient) -> dict[str, object]:
    """The reset a tab gets when its own channel lost history."""
    return {"channels": [tab.channel], "reason": "history_lost"}


def test_round_trip_delivers_each_message_once_in_order(tab: ThywillHttpClient) -> None:
    """Messages sent in several batches come back by long-poll in order, exactly once."""
    sent = [{"n": n} for n in range(10)]
    tab.send(*sent[:3])
    tab.send(*sent[3:4])
    tab.send(*sent[4:])

    received = tab.receive(len(sent))

    assert data_of(received) == sent
    assert [m["channel"] for m in received] == [tab.channel] * len(sent)
    assert len({m["id"] for m in received}) == len(sent)
    assert tab.longpoll(wait=False) == PollResult([], tab.cursor, None)
    assert tab.resets == []


def test_resume_after_an_abandoned_poll_gets_exactly_the_missed_messages(
    tab: ThywillHttpClient,
) -> None:
    """A poll dropped while waiting loses nothing: the next one gets exactly the rest."""
    tab.send("a1", "a2")
    assert data_of(tab.receive(2)) == ["a1", "a2"]
    cursor = tab.cursor
    with pytest.raises(httpx.ReadTimeout):
        tab.longpoll(timeout=0.3)  # the server is still waiting when we hang up
    tab.send("b1", "b2", "b3")

    result = tab.longpoll(cursor)

    assert data_of(result.messages) == ["b1", "b2", "b3"]
    assert result.reset is None
    assert tab.longpoll(wait=False) == PollResult([], result.cursor, None)


def test_an_answer_that_never_arrived_is_given_again(tab: ThywillHttpClient) -> None:
    """Polling again from the same cursor (the answer was lost) returns the same batch."""
    tab.send("x", "y")
    cursor = tab.cursor

    first = tab.longpoll(cursor)
    again = tab.longpoll(cursor)

    assert data_of(first.messages) == ["x", "y"]
    assert again == first


def cursor_before_restart(tab: ThywillHttpClient, live: LiveServer) -> str:
    """Bootstrap ``tab``, receive one message, restart the server; return the old cursor."""
    tab.bootstrap(transport="longpoll")
    tab.send("before")
    assert data_of(tab.receive(1)) == ["before"]
    old_cursor = tab.cursor
    live.restart()
    return old_cursor


def test_restart_gives_a_reset_then_the_messages_published_after_it(
    live: LiveServer, live_url: str
) -> None:
    """After an in-memory backend restart, an old cursor gets a reset and the new ones."""
    with ThywillHttpClient(live_url) as tab:
        old_cursor = cursor_before_restart(tab, live)
        # The session lives in the SQLite file, so the tab's token is still good. The
        # restart forgot the tab's sequence: it numbers from 1 again (out_of_order first).
        assert tab.send("after1", "after2") == [
            {"seq": 1, "status": "ok"},
            {"seq": 2, "status": "ok"},
        ]
        result = tab.longpoll(old_cursor)

        assert result.reset == reset_of(tab)
        assert data_of(result.messages) == ["after1", "after2"]
        assert tab.longpoll(wait=False) == PollResult([], result.cursor, None)


def test_restart_reset_comes_at_once_even_with_nothing_new(
    live: LiveServer, live_url: str
) -> None:
    """A waiting poll from a pre-restart cursor answers its reset at once, even alone."""
    with ThywillHttpClient(live_url) as tab:
        old_cursor = cursor_before_restart(tab, live)

        started = time.monotonic()
        result = tab.longpoll(old_cursor)
        elapsed = time.monotonic() - started

        assert (result.messages, result.reset) == ([], reset_of(tab))
        assert elapsed < 5.0  # far below the 25 s long-poll timeout
        tab.send("later")
        after = tab.longpoll(result.cursor)
        assert (data_of(after.messages), after.reset) == (["later"], None)


def test_trimmed_history_gives_a_reset_then_the_retained_messages(
    small_live: LiveServer,
) -> None:
    """A cursor older than the retained window gets reset + last 5; one inside it, none."""
    with ThywillHttpClient(small_live.url) as tab:
        tab.bootstrap(transport="longpoll")
        tab.send("m0")
        assert data_of(tab.receive(1)) == ["m0"]
        stale_cursor = tab.cursor
        tab.send(*[f"m{n}" for n in range(1, 11)])  # 10 more, unread: m1-m5 fall out

        trimmed = tab.longpoll(stale_cursor)

        assert trimmed.reset == reset_of(tab)
        assert data_of(trimmed.messages) == ["m6", "m7", "m8", "m9", "m10"]

        # m10 is the newest; 5 more push m6-m10 out, yet the cursor after m10 is still
        # just inside the window (the oldest retained message is the next one it needs).
        tab.send(*[f"n{n}" for n in range(1, 6)])
        inside = tab.longpoll(trimmed.cursor)

        assert inside.reset is None
        assert data_of(inside.messages) == ["n1", "n2", "n3", "n4", "n5"]


def test_poll_answers_at_once_when_messages_are_waiting(tab: ThywillHttpClient) -> None:
    """A waiting long-poll returns as soon as there is something, not at its timeout."""
    tab.send("already there")
    started = time.monotonic()
    assert data_of(tab.longpoll().messages) == ["already there"]
    assert time.monotonic() - started < 5.0

    with ThreadPoolExecutor(max_workers=1) as pool:
        started = time.monotonic()
        waiting = pool.submit(tab.longpoll)
        tab.send("wake up")
        result = waiting.result(timeout=15)
        elapsed = time.monotonic() - started

    assert data_of(result.messages) == ["wake up"]
    assert elapsed < 5.0  # the shared server's long-poll timeout is 25 s


def test_poll_with_nothing_new_answers_empty_at_the_timeout(quick_live: LiveServer) -> None:
    """With nothing to deliver, a long-poll answers an empty list after longpollTimeout."""
    with ThywillHttpClient(quick_live.url) as tab:
        tab.bootstrap(transport="longpoll")
        assert tab.config["limits"]["longpollTimeout"] == 1.0
        tab.send("seen")
        assert data_of(tab.receive(1)) == ["seen"]
        cursor = tab.cursor

        started = time.monotonic()
        result = tab.longpoll(timeout=10)
        elapsed = time.monotonic() - started

        assert result == PollResult([], cursor, None)
        assert 0.8 <= elapsed < 5.0


def test_wait_zero_answers_at_once(tab: ThywillHttpClient) -> None:
    """``wait=0`` answers at once: empty when nothing is there, else with the messages."""
    started = time.monotonic()
    empty = tab.longpoll(wait=False)
    assert time.monotonic() - started < 5.0
    assert empty == PollResult([], "", None)

    tab.send("one", "two")
    started = time.monotonic()
    full = tab.longpoll(wait=False)
    assert time.monotonic() - started < 5.0
    assert data_of(full.messages) == ["one", "two"]
