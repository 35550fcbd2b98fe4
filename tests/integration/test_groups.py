"""Groups, presence and hook rules against a real server process."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.http_client import ThywillHttpClient, data_of, delivered
from tests.support.members import TRACE_ID

pytestmark = pytest.mark.live


@pytest.fixture
def tabs(live_url: str) -> Iterator[tuple[ThywillHttpClient, ThywillHttpClient]]:
    """Two bootstrapped tabs of the rooms application, each in its own session."""
    with (
        ThywillHttpClient(live_url, app="rooms") as alice,
        ThywillHttpClient(live_url, app="rooms") as bob,
    ):
        alice.bootstrap(transport="longpoll")
        bob.bootstrap(transport="longpoll")
        yield alice, bob


def test_group_message_reaches_both_members_and_presence_is_told(tabs) -> None:
    """Both join; bob sees alice join; a message said in the room reaches both."""
    alice, bob = tabs
    assert alice.send({"type": "room.join", "room": "lobby"})[0]["status"] == "ok"
    assert bob.send({"type": "room.join", "room": "lobby"})[0]["status"] == "ok"
    assert alice.send({"type": "room.who", "room": "lobby"})[0]["status"] == "ok"
    assert (
        bob.send({"type": "room.say", "room": "lobby", "text": "hi"})[0]["status"] == "ok"
    )

    said = {"from": bob.client_id, "text": "hi"}
    alice_got = data_of(alice.receive(lambda m: said in data_of(m)))
    bob_got = data_of(bob.receive(lambda m: said in data_of(m)))

    assert alice_got == [
        {"members": sorted([alice.client_id, bob.client_id]), "groups": ["lobby"]},
        {"type": "thywill.join", "group": "lobby", "clientId": bob.client_id},
        said,
    ]
    assert bob_got == [said]


def test_hook_fail_reason_reaches_the_sender_and_nothing_is_sent(tabs) -> None:
    """A hook script's fail() is the send's result; the room gets nothing."""
    alice, bob = tabs
    alice.send({"type": "room.join", "room": "quiet"})
    bob.send({"type": "room.join", "room": "quiet"})
    [result] = bob.send({"type": "room.say", "room": "quiet", "text": "forbidden"})
    assert TRACE_ID.fullmatch(result.pop("traceId"))
    assert result == {
        "seq": bob.last_seq,
        "status": "failed",
        "code": "failed",
        "reason": "That word is not allowed here.",
    }
    bob.send({"type": "room.say", "room": "quiet", "text": "fine"})
    got = data_of(alice.receive(lambda m: any("text" in d for d in data_of(m))))
    assert [d.get("text") for d in got if "text" in d] == ["fine"]


@pytest.mark.parametrize("transport", ["longpoll", "sse", "websocket"])
def test_text_that_cannot_be_encoded_breaks_no_members_feed(tabs, transport) -> None:
    """A lone surrogate sent to a room is refused as bad_json; every member's feed, on
    every transport, goes on delivering what is said next."""
    alice, bob = tabs
    alice.send({"type": "room.join", "room": "lobby"})
    bob.send({"type": "room.join", "room": "lobby"})
    bob.receive(lambda m: any(d.get("clientId") == alice.client_id for d in data_of(m)))
    lone = {"type": "room.say", "room": "lobby", "text": "\ud800"}
    # json.dumps writes the lone surrogate as the escape "\ud800", as a browser would.
    body = json.dumps(
        {"token": alice.token, "messages": [{"seq": alice.last_seq + 1, "data": lone}]}
    ).encode()
    refused = alice.post_send(body)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "bad_json"
    assert alice.send({"type": "room.say", "room": "lobby", "text": "after"})[0] == {
        "seq": alice.last_seq,
        "status": "ok",
    }
    said = {"from": alice.client_id, "text": "after"}
    if transport == "websocket":
        with bob.websocket() as socket:
            frames = bob.ws_frames(
                socket,
                lambda fs: any(said in delivered([f]) for f in fs if f["type"] == "batch"),
            )
        assert said in delivered(frames)
    else:
        got = data_of(bob.receive(lambda m: said in data_of(m), transport=transport))
        assert got[-1] == said
