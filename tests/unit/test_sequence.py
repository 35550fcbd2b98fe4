"""Send sequence numbers: contiguous, each handled once, none skipped (issue 14, item 5)."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.members import Member, data_read
from thywill.push.sequences import SendSequences
from thywill.wire.inbound import InboundMessage
from thywill.wire.results import Outcome, Result
from thywill.wiring.runtime import get_runtime

pytestmark = pytest.mark.django_db(transaction=True)


async def handle(member: Member, seqs: range | list[int]) -> list[Result]:
    """Send ``seqs`` as one batch, each message's data its seq."""
    messages = [InboundMessage(seq, seq) for seq in seqs]
    runtime = get_runtime()
    return await runtime.events.handle_messages(member.app, member.identity, messages)


def statuses(seqs: range | list[int], results: list[Result]) -> list[dict]:
    return [r.as_json(s) for s, r in zip(seqs, results, strict=True)]


async def test_a_burst_in_two_batches_arriving_out_of_order_loses_nothing():
    """100 messages in two overlapping batches, the second arriving first: the early one is
    answered out_of_order, the client resends it from ``expected``, and every message is
    handled exactly once, in the order of its seq."""
    alice = Member()
    feed = alice.feed()
    first, second = range(1, 51), range(51, 101)

    early = await handle(alice, second)  # overtook the first batch on the way
    assert statuses(second, early) == [
        {"seq": seq, "status": "out_of_order", "expected": 1} for seq in second
    ]
    late = await handle(alice, first)
    assert [r.outcome for r in late] == [Outcome.OK] * 50
    # The client resends what was out of order, from the seq the server expected.
    resent = await handle(alice, second)
    assert [r.outcome for r in resent] == [Outcome.OK] * 50

    assert await data_read(feed) == [{"untyped": n} for n in range(1, 101)]
    assert await get_runtime().push.last_sequence(alice.id) == 100


async def test_overlapping_batches_sent_together_each_handled_once_in_order():
    """Both batches in flight at once, the later one first: whichever order the lock lets
    them in, a client that resends its out_of_order messages gets all 100 handled once."""
    alice = Member()
    feed = alice.feed()
    batches = [range(51, 101), range(1, 51)]
    pending = {seq for batch in batches for seq in batch}
    for _ in range(3):  # each round resends what the last answered out_of_order
        answers = await asyncio.gather(*(handle(alice, b) for b in batches))
        for batch, results in zip(batches, answers, strict=True):
            for seq, result in zip(batch, results, strict=True):
                if result.outcome is Outcome.OK:
                    pending.remove(seq)
                else:
                    assert result.outcome is Outcome.OUT_OF_ORDER
        batches = [range(min(pending), max(pending) + 1)] if pending else []
    assert pending == set()
    assert await data_read(feed) == [{"untyped": n} for n in range(1, 101)]


async def test_a_gap_inside_a_batch_stops_at_the_gap():
    """1, 2, 4, 5: the first two are handled; 4 and 5 wait for 3 and are not recorded."""
    alice = Member()
    results = await handle(alice, [1, 2, 4, 5])
    assert statuses([1, 2, 4, 5], results) == [
        {"seq": 1, "status": "ok"},
        {"seq": 2, "status": "ok"},
        {"seq": 4, "status": "out_of_order", "expected": 3},
        {"seq": 5, "status": "out_of_order", "expected": 3},
    ]
    assert await get_runtime().push.last_sequence(alice.id) == 2
    results = await handle(alice, [3, 4, 5])
    assert [r.outcome for r in results] == [Outcome.OK] * 3


async def test_a_client_starts_at_seq_one():
    """With no record, the expected seq is 1: a first message numbered 5 is out_of_order."""
    alice = Member()
    [result] = await handle(alice, [5])
    assert result.as_json(5) == {"seq": 5, "status": "out_of_order", "expected": 1}


async def test_a_forgotten_record_asks_for_seq_one_and_renumbering_resumes():
    """A record the push backend forgot (max_age of silence) reads 0: a client's next seq
    is out_of_order with ``expected: 1``, below anything it still holds; it renumbers its
    unsettled messages from there and they are handled, once."""
    alice = Member()
    feed = alice.feed()
    await handle(alice, range(1, 57))
    await data_read(feed)
    push = get_runtime().push
    push._sequences = SendSequences(push.max_age)  # what max_age of silence does
    [result] = await handle(alice, [57])
    assert result.as_json(57) == {"seq": 57, "status": "out_of_order", "expected": 1}
    [result] = await handle(alice, [1])  # seq 57, renumbered
    assert result.outcome is Outcome.OK
    assert await data_read(feed) == [{"untyped": 1}]
