"""The chat application in-process: its handlers, its pipe, presence and history."""

from __future__ import annotations

import pytest

from thywill.testing import TestClient, connect
from thywill.types import JSON
from thywill_apps.chat.application import LOBBY, ChatApplication
from thywill_apps.chat.models import Message, Nickname, Room

pytestmark = pytest.mark.django_db(transaction=True)


class Page:
    """One chat page: a test client of the chat application."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    @property
    def id(self) -> str:
        return self.client.client_id

    async def send(self, data: JSON) -> dict:
        """Send one message; its result, without the seq."""
        return await self.client.send(data)

    async def ok(self, data: JSON) -> None:
        assert await self.send(data) == {"status": "ok"}

    async def read(self, *types: str) -> list:
        """What arrived since the last read, only of ``types`` when given.

        Every page is in the lobby group; like the real page, this one ignores the
        lobby's presence events (each page's arrival and departure).
        """
        arrived = await self.client.receive()
        return [
            d
            for d in arrived
            if d.get("group") != LOBBY and (not types or d.get("type") in types)
        ]

    async def read_one(self, kind: str) -> dict:
        [data] = await self.read(kind)
        return data


async def page(nick: str | None = None, *, tab_of: Page | None = None) -> Page:
    """A connected page (in the browser of ``tab_of`` when given), with its nickname set
    when given; what it received read up to now."""
    new = Page(await connect("chat", http=tab_of.client.http if tab_of else None))
    if nick is not None:
        await new.ok({"type": "chat.nick", "nick": nick})
    await new.read()
    return new


async def in_room(room: str, *pages: Page) -> None:
    """Each page joins ``room`` (which exists); their feeds are read up to now."""
    for each in pages:
        await each.ok({"type": "chat.join", "room": room})
    for each in pages:
        await each.read()


async def group_of(name: str) -> str:
    return (await Room.objects.aget(name=name)).group


# --- connecting, nicknames, rooms ----------------------------------------------------


async def test_a_new_page_is_greeted_and_the_lobby_exists():
    """Connecting says hello; the configured room (Lobby) is made once, and listed."""
    first = Page(await connect("chat"))
    await connect("chat")
    assert await first.read() == [{"type": "chat.hello"}]
    await first.ok({"type": "chat.rooms"})
    assert await first.read() == [{"type": "chat.rooms", "rooms": ["Lobby"]}]
    assert await Room.objects.acount() == 1


async def test_a_nickname_is_cleaned_confirmed_and_kept_per_client():
    """The pipe trims and collapses the nickname; the reply confirms what was kept."""
    alice = await page()
    await alice.ok({"type": "chat.nick", "nick": "  Alice \t  Liddell\n"})
    assert await alice.read() == [{"type": "chat.nick", "nick": "Alice Liddell"}]
    nickname = await Nickname.objects.aget(client_id=alice.id)
    assert (nickname.name, nickname.session) == (
        "Alice Liddell",
        alice.client.session_hash,
    )


async def test_a_new_tab_starting_from_the_last_nickname_gets_one_of_its_own():
    """``fresh``: another tab of the browser is Alice, so this one is Alice 2, the next
    Alice 3; a tab of another browser, or one named on purpose (a reload), keeps it."""
    alice = await page("Alice")
    names = []
    for _ in range(2):
        tab = await page(tab_of=alice)
        await tab.ok({"type": "chat.nick", "nick": "alice", "fresh": True})
        names.append((await tab.read_one("chat.nick"))["nick"])
    assert names == ["alice 2", "alice 3"]
    elsewhere = await page()
    await elsewhere.ok({"type": "chat.nick", "nick": "Alice", "fresh": True})
    reloaded = await page(tab_of=alice)
    await reloaded.ok({"type": "chat.nick", "nick": "Alice"})
    for each in (elsewhere, reloaded):
        assert (await each.read_one("chat.nick"))["nick"] == "Alice"


async def test_a_fresh_nickname_at_the_length_limit_is_cut_for_its_number():
    long = "n" * 24
    first = await page(long)
    second = await page(tab_of=first)
    await second.ok({"type": "chat.nick", "nick": long, "fresh": True})
    assert (await second.read_one("chat.nick"))["nick"] == "n" * 22 + " 2"


async def test_a_created_room_is_announced_to_every_page_and_joined_by_its_maker():
    """chat.create makes the room, tells the lobby, and moves its maker in."""
    alice, bob = await page("alice"), await page("bob")
    await alice.ok({"type": "chat.create", "room": " Tea  room "})
    group = await group_of("Tea room")
    # Two channels (the lobby's, the page's own): their messages may come in any order.
    assert sorted(await alice.read(), key=lambda d: d["type"]) == [
        {"type": "chat.created", "room": "Tea room"},
        {"type": "chat.joined", "room": "Tea room", "group": group},
    ]
    assert await bob.read() == [{"type": "chat.created", "room": "Tea room"}]
    await bob.ok({"type": "chat.rooms"})
    assert await bob.read() == [{"type": "chat.rooms", "rooms": ["Lobby", "Tea room"]}]


async def test_creating_a_room_that_exists_joins_it_whatever_the_case():
    """Room names are matched without regard to case; nothing new is made or told."""
    alice, bob = await page("alice"), await page("bob")
    await bob.ok({"type": "chat.create", "room": "LOBBY"})
    assert await bob.read() == [
        {"type": "chat.joined", "room": "Lobby", "group": await group_of("Lobby")}
    ]
    assert await alice.read() == []
    assert await Room.objects.acount() == 1


async def test_room_names_are_the_same_room_when_only_their_case_differs():
    """Case does not tell rooms apart, accents do, on every database (whatever MySQL's
    collation thinks of "café" and "cafe")."""
    alice = await page("alice")
    for name in ("Café", "CAFÉ", "cafe", "Straße", "STRASSE"):
        await alice.ok({"type": "chat.create", "room": name})
    names = Room.objects.order_by("pk").values_list("name", flat=True)
    assert [name async for name in names] == ["Lobby", "Café", "cafe", "Straße"]


# --- two people in a room ------------------------------------------------------------


async def test_two_people_in_a_room_see_each_other_and_what_they_say():
    """Bob joins Alice's room: she is told, both list both, and both get what is said."""
    alice, bob = await page("Alice"), await page("bob")
    await in_room("Lobby", alice)
    await bob.ok({"type": "chat.join", "room": "lobby"})
    group = await group_of("Lobby")
    assert await bob.read() == [{"type": "chat.joined", "room": "Lobby", "group": group}]
    assert await alice.read() == [
        {"type": "thywill.join", "group": group, "clientId": bob.id}
    ]

    for each in (alice, bob):
        await each.ok({"type": "chat.people"})
        assert await each.read_one("chat.people") == {
            "type": "chat.people",
            "room": "Lobby",
            "people": ["Alice", "bob"],
        }

    await alice.ok({"type": "chat.say", "text": "  hello, bob  "})
    [said] = await bob.read()
    assert said == {
        "type": "chat.said",
        "room": "Lobby",
        "id": said["id"],
        "nick": "Alice",
        "text": "hello, bob",
        "at": said["at"],
    }
    assert await alice.read() == [said]
    message = await Message.objects.aget()
    assert (message.pk, message.sent_at.isoformat()) == (said["id"], said["at"])


async def test_a_newcomer_gets_the_last_messages_of_the_room_oldest_first(settings):
    """chat.history answers the room's last ``history`` messages, in order."""
    settings.THYWILL_APPLICATIONS = {
        **settings.THYWILL_APPLICATIONS,
        "chat": {
            "BACKEND": "thywill_apps.chat.application.ChatApplication",
            "OPTIONS": {"history": 3},
        },
    }
    alice = await page("alice")
    await in_room("Lobby", alice)
    for n in range(5):
        await alice.ok({"type": "chat.say", "text": f"m{n}"})
    carol = await page("carol")
    await in_room("Lobby", carol)
    await carol.ok({"type": "chat.history"})
    history = await carol.read_one("chat.history")
    assert history["room"] == "Lobby"
    assert [(m["nick"], m["text"]) for m in history["messages"]] == [
        ("alice", "m2"),
        ("alice", "m3"),
        ("alice", "m4"),
    ]
    ids = [m["id"] for m in history["messages"]]
    assert ids == sorted(ids)


async def test_messages_stay_in_their_room():
    """A page in another room gets nothing of this one; its history is its own."""
    alice, bob = await page("alice"), await page("bob")
    await alice.ok({"type": "chat.create", "room": "Garden"})
    await in_room("Lobby", bob)
    await alice.read()
    await alice.ok({"type": "chat.say", "text": "in the garden"})
    assert await bob.read() == []
    await bob.ok({"type": "chat.history"})
    assert await bob.read() == [{"type": "chat.history", "room": "Lobby", "messages": []}]


async def test_moving_to_another_room_leaves_the_first():
    """A page is in one room at most: joining another leaves, and the first is told."""
    alice, bob = await page("alice"), await page("bob")
    await in_room("Lobby", alice, bob)
    await bob.ok({"type": "chat.create", "room": "Attic"})
    assert await alice.read("thywill.leave") == [
        {"type": "thywill.leave", "group": await group_of("Lobby"), "clientId": bob.id}
    ]
    await alice.ok({"type": "chat.people"})
    assert (await alice.read_one("chat.people"))["people"] == ["alice"]
    await bob.ok({"type": "chat.say", "text": "up here"})
    assert await alice.read() == []


async def test_leaving_a_room():
    """chat.leave takes the page out of its room; leaving again is harmless."""
    alice, bob = await page("alice"), await page("bob")
    await in_room("Lobby", alice, bob)
    for _ in range(2):
        await bob.ok({"type": "chat.leave"})
        assert await bob.read() == [{"type": "chat.left"}]
    assert [d["type"] for d in await alice.read()] == ["thywill.leave"]
    assert await bob.send({"type": "chat.say", "text": "anyone?"}) == refused(
        "not_in_room", "Join a room first."
    )


async def test_a_new_nickname_is_told_to_the_room():
    """Renaming in a room tells its members; what is said then carries the new name."""
    alice, bob = await page("alice"), await page("bob")
    await in_room("Lobby", alice, bob)
    await bob.ok({"type": "chat.nick", "nick": "Robert"})
    renamed = {"type": "chat.renamed", "room": "Lobby", "from": "bob", "to": "Robert"}
    assert await alice.read() == [renamed]
    assert await bob.read() == [{"type": "chat.nick", "nick": "Robert"}, renamed]
    await bob.ok({"type": "chat.say", "text": "call me Robert"})
    assert (await alice.read_one("chat.said"))["nick"] == "Robert"


# --- presence ------------------------------------------------------------------------


async def test_a_person_with_two_pages_in_a_room_is_listed_once():
    """A reloaded page is a new client of the same session: its owner is one person.
    Someone else of the same name is another person."""
    old = await page("alice")
    new = await page("alice", tab_of=old)
    namesake = await page("alice")
    await in_room("Lobby", old, new)
    await new.ok({"type": "chat.people"})
    assert (await new.read_one("chat.people"))["people"] == ["alice"]
    await in_room("Lobby", namesake)
    await new.ok({"type": "chat.people"})
    assert (await new.read_one("chat.people"))["people"] == ["alice", "alice"]


async def test_a_page_that_is_gone_leaves_its_room_and_its_nickname_is_forgotten():
    """The disconnect event deletes the nickname; the room is told the page left."""
    alice, bob = await page("alice"), await page("bob")
    await in_room("Lobby", alice, bob)

    await bob.client.disconnect()

    assert await alice.read() == [
        {"type": "thywill.leave", "group": await group_of("Lobby"), "clientId": bob.id}
    ]
    assert not await Nickname.objects.filter(client_id=bob.id).aexists()
    await alice.ok({"type": "chat.people"})
    assert (await alice.read_one("chat.people"))["people"] == ["alice"]


# --- refusals ------------------------------------------------------------------------


def refused(code: str, reason: str, **details: JSON) -> dict:
    return {"status": "failed", "code": code, "reason": reason, **details}


@pytest.mark.parametrize(
    ("data", "result"),
    [
        ({"type": "chat.nick"}, refused("bad_message", "A nickname is missing.")),
        (
            {"type": "chat.nick", "nick": 7},
            refused("bad_message", "A nickname is missing."),
        ),
        (
            {"type": "chat.nick", "nick": " \n "},
            refused("empty", "A nickname cannot be empty."),
        ),
        (
            {"type": "chat.nick", "nick": "n" * 25},
            refused(
                "too_long",
                "A nickname can have at most 24 characters; this one has 25.",
                maxLength=24,
            ),
        ),
        (
            {"type": "chat.nick", "nick": "bell\x07"},
            refused("bad_text", "A nickname cannot contain control characters."),
        ),
        (
            {"type": "chat.create", "room": ""},
            refused("empty", "A room name cannot be empty."),
        ),
        (
            {"type": "chat.join", "room": "r" * 41},
            refused(
                "too_long",
                "A room name can have at most 40 characters; this one has 41.",
                maxLength=40,
            ),
        ),
        (
            {"type": "chat.say", "text": "\t"},
            refused("empty", "A message cannot be empty."),
        ),
        (
            {"type": "chat.say", "text": "x" * 501},
            refused(
                "too_long",
                "A message can have at most 500 characters; this one has 501.",
                maxLength=500,
            ),
        ),
        (
            {"type": "chat.say", "text": "null\x00byte"},
            refused("bad_text", "A message cannot contain control characters."),
        ),
    ],
)
async def test_the_pipe_refuses_bad_text_with_a_reason(data, result):
    """Refused before the handler: the reason is the send's result, nothing changes."""
    alice = await page("alice")
    await in_room("Lobby", alice)
    assert await alice.send(data) == result
    assert await alice.read() == []
    assert await Message.objects.acount() == 0
    assert (await Nickname.objects.aget(client_id=alice.id)).name == "alice"


async def test_a_message_keeps_its_line_breaks_and_its_length_counts_characters():
    """Line breaks of any kind become \\n; 500 characters of any script are allowed."""
    alice = await page("alice")
    await in_room("Lobby", alice)
    await alice.ok({"type": "chat.say", "text": " one\r\ntwo\rthree\n"})
    assert (await alice.read_one("chat.said"))["text"] == "one\ntwo\nthree"
    await alice.ok({"type": "chat.say", "text": "é" * 499 + "🙂"})
    assert (await alice.read_one("chat.said"))["text"] == "é" * 499 + "🙂"


async def test_rooms_need_a_nickname_and_must_exist():
    """No room without a nickname (and nothing made); joining an unknown room fails."""
    anonymous = await page()
    for kind in ("chat.create", "chat.join"):
        assert await anonymous.send({"type": kind, "room": "Cellar"}) == refused(
            "no_nick", "Choose a nickname first."
        )
    assert not await Room.objects.filter(name="Cellar").aexists()
    alice = await page("alice")
    assert await alice.send({"type": "chat.join", "room": "Cellar"}) == refused(
        "no_room", "There is no room called Cellar."
    )
    for kind in ("chat.history", "chat.people"):
        assert await alice.send({"type": kind}) == refused(
            "not_in_room", "Join a room first."
        )


@pytest.mark.parametrize(
    "options",
    [{"rooms": [""]}, {"rooms": ["x" * 41]}, {"rooms": [" Lobby"]}, {"history": 0}],
)
def test_bad_options_are_refused(options):
    """The options in settings are checked when the application is built."""
    with pytest.raises(ValueError):
        ChatApplication(name="chat", **options)
