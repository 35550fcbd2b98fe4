"""Groups, presence and hook rules against a real server process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.http_client import ThywillHttpClient, data_of

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
    assert result == {
        "seq": bob.last_seq,
        "status": "failed",
        "code": "failed",
        "reason": "That word is not allowed here.",
    }
    bob.send({"type": "room.say", "room": "quiet", "text": "fine"})
    got = data_of(alice.receive(lambda m: any("text" in d for d in data_of(m))))
    assert [d.get("text") for d in got if "text" in d] == ["fine"]
