"""Replies: what a message's handler returns becomes its result's ``value``."""

from __future__ import annotations

import pytest

from tests.support.members import Member

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_handlers_return_value_is_the_results_value():
    member = Member()
    result = await member.sent_one({"type": "ask", "answer": {"n": [1, 2]}})
    assert result == {"seq": 1, "status": "ok", "value": {"n": [1, 2]}}


async def test_an_async_handlers_return_value_is_the_results_value():
    member = Member()
    result = await member.sent_one({"type": "aask", "answer": 42})
    assert result == {"seq": 1, "status": "ok", "value": 42}


async def test_a_handler_that_returns_nothing_gives_no_value():
    member = Member()
    assert await member.sent_one({"type": "ask"}) == {"seq": 1, "status": "ok"}
    assert await member.sent_one({"type": "room.join", "room": "r"}) == {
        "seq": 2,
        "status": "ok",
    }


async def test_the_value_runs_through_the_on_send_transforms():
    # The rooms application's Upper pipe capitalises every string it sends.
    member = Member()
    result = await member.sent_one({"type": "ask", "answer": "yes"})
    assert result["value"] == "YES"


async def test_a_value_that_is_not_json_fails_the_event_as_an_error():
    member = Member()
    result = await member.sent_one({"type": "ask_badly"})
    assert result["status"] == "error"
    assert "value" not in result


async def test_a_duplicate_has_no_value():
    member = Member()
    await member.sent_one({"type": "ask", "answer": 1})
    member.seq = 0  # the same seq again: a retry whose first answer was lost
    assert await member.sent_one({"type": "ask", "answer": 1}) == {
        "seq": 1,
        "status": "duplicate",
    }


async def test_a_pipe_sees_and_may_replace_the_reply_after_next_pipe():
    # on_ask_doubled's own pipe doubles the number its handler returns.
    member = Member()
    result = await member.sent_one({"type": "ask_doubled", "answer": 21})
    assert result["value"] == 42
