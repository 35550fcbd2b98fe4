"""Sending against a real server: idempotent retries, failing handlers, forwarding."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.live import LiveServer
from tests.support.http_client import ThywillHttpClient, Transport, data_of

pytestmark = pytest.mark.live

HANDLER_FAILED = "Handler for message in application 'testkit' failed"
COPIES = 4
TRIALS = 5


@pytest.fixture(params=["longpoll", "sse"])
def transport(request: pytest.FixtureRequest) -> Transport:
    """The transport that reads what was delivered."""
    value: Transport = request.param
    return value


@pytest.fixture
def tab(live_url: str, transport: Transport) -> Iterator[ThywillHttpClient]:
    """A bootstrapped echo tab on the shared server."""
    with ThywillHttpClient(live_url) as client:
        client.bootstrap(transport=transport)
        yield client


def results(status: str, *seqs: int) -> list[dict[str, object]]:
    """The results the server gives for ``seqs`` that all had ``status``."""
    return [{"seq": seq, "status": status} for seq in seqs]


def assert_drained(tab: ThywillHttpClient) -> None:
    """Nothing more is waiting for the tab (checked without waiting)."""
    poll = tab.longpoll(wait=False)
    assert (poll.messages, poll.reset) == ([], None)


def test_retried_batch_is_a_duplicate_and_delivered_once(
    tab: ThywillHttpClient, transport: Transport
) -> None:
    """The same batch POSTed twice is answered ``duplicate``; its messages arrive once."""
    assert tab.send("a", "b", seqs=[1, 2]) == results("ok", 1, 2)
    assert tab.send("a", "b", seqs=[1, 2]) == results("duplicate", 1, 2)
    assert tab.send("c") == results("ok", 3)

    received = tab.receive(3, transport=transport)

    assert data_of(received) == ["a", "b", "c"]
    assert_drained(tab)


def test_seq_not_above_the_highest_handled_is_a_duplicate(
    tab: ThywillHttpClient, transport: Transport
) -> None:
    """A lower (or equal) seq after a higher one is a duplicate; the next one is handled."""
    assert tab.send("one", "two", "three", seqs=[1, 2, 3]) == results("ok", 1, 2, 3)
    assert tab.send("two again", seqs=[2]) == results("duplicate", 2)
    assert tab.send("three again", seqs=[3]) == results("duplicate", 3)
    assert tab.send("three", "four", seqs=[3, 4]) == [
        {"seq": 3, "status": "duplicate"},
        {"seq": 4, "status": "ok"},
    ]

    received = tab.receive(4, transport=transport)

    assert data_of(received) == ["one", "two", "three", "four"]
    assert_drained(tab)


def test_a_seq_past_a_gap_is_out_of_order_until_the_gap_is_filled(
    tab: ThywillHttpClient, transport: Transport
) -> None:
    """A batch that overtook the one before it is answered out_of_order with the seq
    expected, and handled when resent after the gap is filled: nothing is lost."""
    assert tab.send("three", "four", seqs=[3, 4]) == [
        {"seq": 3, "status": "out_of_order", "expected": 1},
        {"seq": 4, "status": "out_of_order", "expected": 1},
    ]
    assert tab.send("one", "two", seqs=[1, 2]) == results("ok", 1, 2)
    assert tab.send("three", "four", seqs=[3, 4]) == results("ok", 3, 4)

    received = tab.receive(4, transport=transport)

    assert data_of(received) == ["one", "two", "three", "four"]
    assert_drained(tab)


def post_together(
    tab: ThywillHttpClient, copies: int, datas: list[str], seqs: list[int]
) -> list[list[dict[str, Any]]]:
    """POST ``copies`` copies of one batch at the same moment; return every answer."""
    barrier = threading.Barrier(copies, timeout=5)

    def post() -> list[dict[str, Any]]:
        barrier.wait()
        return tab.send(*datas, seqs=seqs)

    with ThreadPoolExecutor(max_workers=copies) as pool:
        futures = [pool.submit(post) for _ in range(copies)]
        return [future.result(timeout=15) for future in futures]


def test_overlapping_retries_are_handled_once_each_in_order(live_url: str) -> None:
    """Copies of a batch POSTed together (racing retries) handle each seq once, in order."""
    datas = [f"m{n}" for n in range(1, 9)]
    seqs = list(range(1, 9))
    for trial in range(TRIALS):  # the race shows most of the time, not every time
        # testkit's handler is sync: each message hops to a thread, so requests interleave.
        with ThywillHttpClient(live_url, app="testkit") as tab:
            tab.bootstrap()
            answers = post_together(tab, COPIES, datas, seqs)
            handled = sorted(r["seq"] for a in answers for r in a if r["status"] == "ok")
            received = data_of(tab.receive(len(datas) + 1))

            assert (trial, handled, received) == (
                trial,
                seqs,
                [{"welcome": tab.client_id}, *datas],
            )


def test_failing_handler_releases_nothing_and_the_next_message_works(
    live: LiveServer, live_url: str, transport: Transport
) -> None:
    """A raising handler gets status error, its sends are dropped, the next one works."""
    with ThywillHttpClient(live_url, app="testkit") as tab:
        tab.bootstrap(transport=transport)
        log_start = len(live.log())

        answer = tab.send({"raise": True}, {"text": "after"})
        trace_id = answer[0].pop("traceId")

        assert answer == [
            {
                "seq": 1,
                "status": "error",
                "reason": "The application failed to handle this message.",
            },
            {"seq": 2, "status": "ok"},
        ]
        received = tab.receive(2, transport=transport)
        assert data_of(received) == [{"welcome": tab.client_id}, {"text": "after"}]
        assert_drained(tab)
        # Logged once, with the trace id the client was given.
        assert live.log()[log_start:].count(f"{HANDLER_FAILED} trace={trace_id}") == 1


def test_forward_reaches_the_other_client_only(live_url: str, transport: Transport) -> None:
    """A message forwarded to another client is delivered to that client and nobody else."""
    with (
        ThywillHttpClient(live_url, app="testkit") as alice,
        ThywillHttpClient(live_url, app="testkit") as bob,
    ):
        alice.bootstrap(transport=transport)
        bob.bootstrap(transport=transport)

        assert alice.send({"to": bob.client_id, "data": "psst"}) == results("ok", 1)
        alice.send("own echo")

        assert data_of(bob.receive(2, transport=transport)) == [
            {"welcome": bob.client_id},
            {"from": alice.client_id, "data": "psst"},
        ]
        assert data_of(alice.receive(2, transport=transport)) == [
            {"welcome": alice.client_id},
            "own echo",
        ]
        assert_drained(alice)
        assert_drained(bob)
