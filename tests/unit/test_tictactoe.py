"""The tic-tac-toe application in process: its hook rules, handlers and game state."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from asgiref.sync import sync_to_async

from thywill import Context, Model
from thywill.exceptions import FlowFailedError
from thywill.hooks.pipe import HookPipe
from thywill.identity.tokens import ClientIdentity, new_client_id
from thywill.testing import TestClient, connect
from thywill.wiring.runtime import get_runtime
from thywill_apps.tictactoe import board
from thywill_apps.tictactoe.application import TicTacToeApplication
from thywill_apps.tictactoe.models import Game, player_of

pytestmark = pytest.mark.django_db(transaction=True)

ROOM = "r1"
SEATLESS_SESSION = "w" * 32
"""The session hash of a browser that has no seat."""
TABS: dict[str, str] = {}
"""The tab key of each client (by id): what its page keeps in sessionStorage."""


async def visitor(
    tab_of: TestClient | None = None, *, reload_of: TestClient | None = None
) -> TestClient:
    """A new tab of the tictactoe application: in a browser of its own, in the browser
    (the session) of ``tab_of``, or the tab of ``reload_of`` reloaded (a new client)."""
    same = tab_of or reload_of
    client = await connect("tictactoe", http=same.http if same else None)
    TABS[client.client_id] = tab(reload_of) if reload_of else secrets.token_hex(8)
    return client


def tab(client: TestClient) -> str:
    return TABS[client.client_id]


async def sent(client: TestClient, kind: str, **fields) -> dict:
    """The result of one ``ttt.<kind>`` message about ROOM (a join names the client's
    tab), without its seq."""
    if kind == "join":
        fields.setdefault("tab", tab(client))
    return await client.send({"type": f"ttt.{kind}", "room": ROOM, **fields})


async def states(client: TestClient) -> list[dict]:
    """The ttt.state messages the client received since it last received."""
    return [d for d in await client.receive() if d.get("type") == "ttt.state"]


async def game() -> Game:
    return await Game.objects.aget(room=ROOM)


async def started() -> tuple[TestClient, TestClient]:
    """X and O seated in ROOM; the game is on, X to play."""
    x, o = await visitor(), await visitor()
    assert (await sent(x, "join"))["status"] == "ok"
    assert (await sent(o, "join"))["status"] == "ok"
    return x, o


async def play(x: TestClient, o: TestClient, cells: list[int]) -> None:
    """Play ``cells`` in turn, X first, each accepted."""
    for number, cell in enumerate(cells):
        mover = x if number % 2 == 0 else o
        assert (await sent(mover, "move", cell=cell))["status"] == "ok", cell


# --- the board ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "line"),
    [
        ("XXX-OO---", (0, 1, 2)),
        ("O--OX-OX-", (0, 3, 6)),
        ("X-O-XO--X", (0, 4, 8)),
        ("XXO-OXO--", (2, 4, 6)),
        ("XOXXOOOXX", None),
        ("---------", None),
    ],
)
def test_winning_line_finds_three_in_a_row(cells, line):
    """A row, a column or a diagonal of one mark wins; nothing else does."""
    assert board.winning_line(cells) == line


def test_a_full_board_and_the_other_mark():
    assert board.is_full("XOXXOOOXX") and not board.is_full("XOXXOOOX-")
    assert (board.other("X"), board.other("O")) == ("O", "X")
    assert board.place("---------", 4, "O") == "----O----"


# --- joining, watching and resuming ----------------------------------------------------


async def test_the_second_join_starts_the_game_and_tells_each_player_its_mark():
    """X waits alone; O's join starts the game: the room's state tells both that X
    starts, and O's own answer that it is O (X's told it X when it joined)."""
    x, o = await visitor(), await visitor()
    await sent(x, "join")
    [waiting] = [s for s in await states(x) if "you" in s]
    assert waiting["you"] == "X"
    assert (waiting["status"], waiting["seats"]) == ("waiting", {"X": True, "O": False})

    await sent(o, "join")
    [x_sees] = await states(x)
    assert "you" not in x_sees  # the room's state
    assert (x_sees["status"], x_sees["turn"], x_sees["starter"]) == ("playing", "X", "X")
    o_sees = await states(o)
    assert sorted(s.get("you", "-") for s in o_sees) == ["-", "O"]
    assert all(s["board"] == [""] * 9 and s["version"] == 2 for s in o_sees)


async def test_a_third_visitor_is_refused_a_seat_and_watches_the_game():
    """room_full with its reason; ttt.watch then follows every move of the room."""
    x, o = await started()
    watcher = await visitor()
    refused = await sent(watcher, "join")
    assert (refused["code"], refused["reason"]) == (
        "room_full",
        "Room full: you are watching.",
    )
    assert (await sent(watcher, "watch"))["status"] == "ok"
    [watching] = await states(watcher)
    assert (watching["you"], watching["status"]) == (None, "playing")

    await sent(x, "move", cell=4)
    [seen] = await states(watcher)
    assert seen["board"][4] == "X" and seen["turn"] == "O"
    g = await game()
    assert (g.player_x, g.player_o) == (
        player_of(None, x.session_hash, tab(x)),
        player_of(None, o.session_hash, tab(o)),
    )
    assert (g.client_x, g.client_o) == (x.client_id, o.client_id)


async def test_a_reloaded_tab_resumes_its_seat_and_the_board():
    """A new client of X's tab (a reload) gets X back and the board as it was; the
    room is not told anything new, and only the new client moves for X."""
    x, o = await started()
    await play(x, o, [0, 4])
    await o.receive()
    reloaded = await visitor(reload_of=x)
    assert (await sent(reloaded, "join"))["status"] == "ok"
    [resumed] = await states(reloaded)
    assert resumed["you"] == "X"
    assert resumed["board"] == ["X", "", "", "", "O", "", "", "", ""]
    assert resumed["turn"] == "X"
    assert await states(o) == []
    assert (await sent(x, "move", cell=8))["code"] == "watching"
    assert (await sent(reloaded, "move", cell=8))["status"] == "ok"


async def test_two_tabs_of_one_browser_are_two_players():
    """A second tab of X's browser is not X again: it takes O, and the game starts."""
    x = await visitor()
    await sent(x, "join")
    other_tab = await visitor(tab_of=x)
    assert (await sent(other_tab, "join"))["status"] == "ok"
    [answer] = [s for s in await states(other_tab) if "you" in s]
    assert (answer["you"], answer["status"]) == ("O", "playing")
    await play(x, other_tab, [4, 0])
    assert (await game()).board == "O---X----"


# --- a player who is gone ----------------------------------------------------------------


async def test_a_player_gone_frees_the_seat_and_a_newcomer_takes_over_the_game():
    """O's client is gone (its disconnect event): the room is told the seat is free
    and the game waits; the next visitor sits as O and plays on the same board."""
    x, o = await started()
    await play(x, o, [4, 0])
    await x.receive()
    await o.disconnect()
    [freed] = await states(x)
    assert (freed["status"], freed["seats"]) == ("waiting", {"X": True, "O": False})
    assert (await sent(x, "move", cell=8))["code"] == "not_started"

    newcomer = await visitor()
    assert (await sent(newcomer, "join"))["status"] == "ok"
    [answer] = [s for s in await states(newcomer) if "you" in s]
    assert (answer["you"], answer["status"], answer["turn"]) == ("O", "playing", "X")
    assert answer["board"] == ["O", "", "", "", "X", "", "", "", ""]
    await play(x, newcomer, [8])


async def test_a_room_left_empty_starts_afresh():
    """Both players gone: the next visitor is X of a new game on an empty board."""
    x, o = await started()
    await play(x, o, [4, 0])
    await x.disconnect()
    await o.disconnect()
    newcomer = await visitor()
    await sent(newcomer, "join")
    [answer] = [s for s in await states(newcomer) if "you" in s]
    assert (answer["you"], answer["status"]) == ("X", "waiting")
    assert (answer["board"], answer["round"]) == ([""] * 9, 1)


# --- moves ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "cell", "code", "reason"),
    [
        ("o", 3, "not_your_turn", "Not your turn."),
        ("x", 0, "cell_taken", "That cell is taken."),
        ("watcher", 3, "watching", "You are watching: only the two players move."),
    ],
)
async def test_an_illegal_move_is_refused_with_its_reason_and_changes_nothing(
    who, cell, code, reason
):
    """After X 0, O 4: O out of turn, X on a taken cell, a watcher: each refused."""
    x, o = await started()
    await play(x, o, [0, 4])
    watcher = await visitor()
    await sent(watcher, "watch")
    await watcher.receive()
    before = await game()

    refused = await sent({"x": x, "o": o, "watcher": watcher}[who], "move", cell=cell)

    assert (refused["status"], refused["code"], refused["reason"]) == (
        "failed",
        code,
        reason,
    )
    after = await game()
    assert (after.board, after.turn, after.version) == (before.board, "X", before.version)
    assert await states(watcher) == []


async def test_moves_need_a_game_a_second_player_and_a_game_still_on():
    """no_game before anyone joined, not_started with one player, game_over after a win."""
    x, o = await visitor(), await visitor()
    assert (await sent(x, "move", cell=0))["code"] == "no_game"
    await sent(x, "join")
    assert (await sent(x, "move", cell=0))["reason"] == "Waiting for a second player."
    await sent(o, "join")
    await play(x, o, [0, 3, 1, 4, 2])
    assert (await sent(o, "move", cell=5))["code"] == "game_over"


async def test_a_line_wins_for_its_player_and_everyone_sees_the_end():
    """X completes the top row: won, winner X, the line, seen by both players."""
    x, o = await started()
    for player in (x, o):
        await player.receive()
    await play(x, o, [0, 3, 1, 4, 2])
    for player in (x, o):
        final = (await states(player))[-1]
        assert (final["status"], final["winner"], final["line"]) == ("won", "X", [0, 1, 2])
        assert final["board"][:3] == ["X", "X", "X"]


async def test_a_full_board_without_a_line_is_a_draw():
    x, o = await started()
    await play(x, o, [0, 1, 2, 4, 3, 5, 7, 6, 8])
    final = (await states(o))[-1]
    assert (final["status"], final["winner"], final["line"]) == ("draw", None, None)
    assert "".join(final["board"]) == "XOXXOOOXX"


async def test_a_rematch_after_the_end_lets_the_other_player_start():
    """Not before the end, not by a watcher; then an empty board, round 2, O starts."""
    x, o = await started()
    watcher = await visitor()
    await sent(watcher, "watch")
    assert (await sent(x, "rematch"))["code"] == "not_over"
    await play(x, o, [0, 3, 1, 4, 2])
    assert (await sent(watcher, "rematch"))["code"] == "watching"
    await watcher.receive()  # what came before
    assert (await sent(o, "rematch"))["status"] == "ok"
    [fresh] = await states(watcher)
    assert (fresh["round"], fresh["starter"], fresh["turn"]) == (2, "O", "O")
    assert (fresh["status"], fresh["board"], fresh["winner"]) == ("playing", [""] * 9, None)
    assert (await sent(x, "move", cell=0))["code"] == "not_your_turn"
    assert (await sent(o, "move", cell=0))["status"] == "ok"


# --- malformed messages ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"type": "ttt.join", "room": "Not A Room!", "tab": "t" * 16}, "bad_room"),
        ({"type": "ttt.join", "room": "x" * 33, "tab": "t" * 16}, "bad_message"),
        ({"type": "ttt.join", "room": ROOM}, "bad_message"),
        ({"type": "ttt.join", "room": ROOM, "tab": "short"}, "bad_message"),
        ({"type": "ttt.move", "room": ROOM, "cell": 9}, "bad_message"),
        ({"type": "ttt.move", "room": ROOM}, "bad_message"),
        ({"type": "ttt.shout", "room": ROOM}, "bad_message"),
        ("hello", "bad_message"),
    ],
)
async def test_malformed_messages_are_refused(data, code):
    assert (await (await visitor()).send(data))["code"] == code


# --- the rules are hook scripts; the handlers check again under the lock -----------------


def rules_module():
    """The tictactoe application's rules.py, as its hook pipe loaded it."""
    pipe = get_runtime().flows.pipes_for(get_runtime().application("tictactoe"), None)[-1]
    assert isinstance(pipe, HookPipe)
    [script] = pipe.scripts.scripts
    assert script.module.__name__ == "thywill_hooks.tictactoe.rules"
    return script.module


def hook_model(client: TestClient | None, data: dict) -> Model:
    """The model of a message of ``client`` (None: a client of a seatless browser)."""
    fields = {
        "client_id": client.client_id if client else new_client_id(),
        "user_id": None,
        "session_hash": client.session_hash if client else SEATLESS_SESSION,
        "data": data,
    }
    return Model("message", fields, frozenset())


async def test_the_hook_scripts_refuse_a_third_player_and_a_move_out_of_turn():
    """pre_ttt_join and pre_ttt_move refuse by themselves, with the reason."""
    x, o = await started()
    rules = rules_module()
    with pytest.raises(FlowFailedError) as full:
        await sync_to_async(rules.pre_ttt_join)(
            hook_model(None, {"type": "ttt.join", "room": ROOM, "tab": "t" * 16})
        )
    with pytest.raises(FlowFailedError) as turn:
        await sync_to_async(rules.pre_ttt_move)(
            hook_model(o, {"type": "ttt.move", "room": ROOM, "cell": 0})
        )
    assert (full.value.code, turn.value.code) == ("room_full", "not_your_turn")
    await sync_to_async(rules.pre_ttt_move)(
        hook_model(x, {"type": "ttt.move", "room": ROOM, "cell": 0})
    )


async def test_the_move_handler_checks_again_under_the_row_lock():
    """A move the hook let through is refused when the game changed before the handler
    took the lock (here: O's turn by then): nothing is written."""
    x, _ = await started()
    await Game.objects.filter(room=ROOM).aupdate(turn="O")
    ctx = Context(
        ClientIdentity(x.client_id, "tictactoe", x.session_hash),
        push=get_runtime().push,
    )
    app = get_runtime().application("tictactoe").app
    assert isinstance(app, TicTacToeApplication)

    def move() -> None:
        from django.db import transaction

        with transaction.atomic():
            app.on_ttt_move(ctx, {"type": "ttt.move", "room": ROOM, "cell": 0})

    with pytest.raises(FlowFailedError) as refused:
        await sync_to_async(move)()
    assert refused.value.code == "not_your_turn"
    assert (await game()).board == board.EMPTY_BOARD


async def test_two_visitors_joining_at_once_take_one_seat_each():
    """Two tabs of one browser join a new room at the same time: X and O, not X twice."""
    x = await visitor()
    other_tab = await visitor(tab_of=x)
    results = await asyncio.gather(sent(x, "join"), sent(other_tab, "join"))
    assert [r["status"] for r in results] == ["ok", "ok"]
    g = await game()
    assert {g.client_x, g.client_o} == {x.client_id, other_tab.client_id}
    assert g.status == "playing"
