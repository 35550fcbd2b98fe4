"""The tic-tac-toe application: the handlers that change a room's game and show it.

The rules (two players a room, moves in turn on free cells) are the hook scripts of
``hooks/``, which refuse a message with its reason before a handler runs. A handler
locks the room's game row, checks the same rule again (another message may have changed
it in between), changes the game, and sends the new state to the room's group: both
players and every watcher. A player who is gone (its disconnect event) frees its seat.
"""

from __future__ import annotations

from pathlib import Path

from django.db.models import Q

from thywill import JSON, BaseApplication, Context, SchemaPipe
from thywill_apps.tictactoe.models import Game, player_of
from thywill_apps.tictactoe.refusals import NO_GAME, enforce

ROOM = {"type": "string", "minLength": 1, "maxLength": 32}
TAB = {"type": "string", "minLength": 8, "maxLength": 32}
"""The key a page keeps for its tab (in sessionStorage), the same across its reloads."""
MESSAGES = SchemaPipe(
    schema={
        "type": "object",
        "required": ["type", "room"],
        "properties": {
            "type": {"enum": ["ttt.join", "ttt.watch", "ttt.move", "ttt.rematch"]},
            "room": ROOM,
        },
    },
    types={
        "ttt.join": {"required": ["tab"], "properties": {"tab": TAB}},
        "ttt.move": {
            "required": ["cell"],
            "properties": {"cell": {"type": "integer", "minimum": 0, "maximum": 8}},
        },
    },
)


def player(ctx: Context, data: dict[str, JSON]) -> str:
    """Who the client of ``ctx`` plays as: its tab, named in a ``ttt.join``."""
    return player_of(ctx.user_id, ctx.identity.session_hash, str(data["tab"]))


def locked_game(room: str) -> Game:
    """The room's game, its row locked until the handler's transaction ends."""
    game = Game.objects.select_for_update().filter(room=room).first()
    if game is None:
        enforce(NO_GAME)
    assert game is not None
    return game


def reply_state(ctx: Context, game: Game) -> None:
    """Send the client the game, with ``you``: its mark, or None for a watcher."""
    ctx.reply({**game.state(), "you": game.mark_of(ctx.client_id)})


class TicTacToeApplication(BaseApplication):
    """Tic-tac-toe rooms: ``ttt.join`` takes a seat (or resumes one), ``ttt.watch``
    watches, ``ttt.move`` plays a cell, ``ttt.rematch`` starts the next round.

    Each message names its ``room``; the room's group gets a ``ttt.state`` after every
    change, and a client that joins or watches gets one of its own with ``you``. A
    client that is gone frees its seat for the next visitor.
    """

    title = "Tic-tac-toe"
    description = "Two players a room, anyone else watches; the rules are hook scripts."
    scripts = ("tictactoe/tictactoe.js",)
    styles = ("tictactoe/tictactoe.css",)
    hooks = Path(__file__).with_name("hooks")
    pipeline = (MESSAGES,)

    def on_ttt_join(self, ctx: Context, data: dict[str, JSON]) -> None:
        """Seat the client's tab (the room's first two), or give it back its seat; a
        third is refused (``room_full``) and may watch instead."""
        room, who = str(data["room"]), player(ctx, data)
        game, _ = Game.objects.select_for_update().get_or_create(room=room)
        enforce(game.join_refusal(who))
        ctx.join(room)
        changed = game.seat(who, ctx.client_id)
        game.save()
        if changed:
            ctx.send_to_group(room, game.state())
        reply_state(ctx, game)

    def on_ttt_watch(self, ctx: Context, data: dict[str, JSON]) -> None:
        """Follow the room's game without a seat."""
        room = str(data["room"])
        game = Game.objects.filter(room=room).first() or Game(room=room)
        ctx.join(room)
        reply_state(ctx, game)

    def on_ttt_move(self, ctx: Context, data: dict[str, JSON]) -> None:
        """Play a cell for the client's player; everyone in the room sees the board."""
        room, cell = str(data["room"]), data["cell"]
        assert isinstance(cell, int)
        game = locked_game(room)
        enforce(game.move_refusal(ctx.client_id, cell))
        game.play(cell)
        game.save()
        ctx.send_to_group(room, game.state())

    def on_ttt_rematch(self, ctx: Context, data: dict[str, JSON]) -> None:
        """Start the room's next round, once this one is over."""
        room = str(data["room"])
        game = locked_game(room)
        enforce(game.rematch_refusal(ctx.client_id))
        game.rematch()
        game.save()
        ctx.send_to_group(room, game.state())

    def on_disconnect(self, ctx: Context) -> None:
        """The client is gone (its tab closed, or its presence lease lapsed): free its
        seats, so that the room's next visitor may play."""
        seated = Q(client_x=ctx.client_id) | Q(client_o=ctx.client_id)
        for game in Game.objects.select_for_update().filter(seated):
            if game.vacate(ctx.client_id):
                game.save()
                ctx.send_to_group(game.room, game.state())
