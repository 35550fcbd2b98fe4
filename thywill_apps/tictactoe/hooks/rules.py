"""The rules of tic-tac-toe, as hook scripts of the tictactoe application only.

Each ``pre_`` function runs before the handler of its message type and refuses it with
``fail()`` (through ``enforce``), so the player's ``send()`` Promise rejects with the
reason: a malformed room name, a third player, a move out of turn, on a taken cell, by a
watcher or after the end, a new round before the end. The state they read is the
database's: the same on every server process, and nothing kept in the script.
"""

from thywill import Model
from thywill_apps.tictactoe.models import Game, player_of, room_refusal
from thywill_apps.tictactoe.refusals import NO_GAME, enforce


def _game(model: Model) -> Game | None:
    return Game.objects.filter(room=model.data["room"]).first()


def _player(model: Model) -> str:
    return player_of(model.user_id, model.session_hash, model.data["tab"])


def pre_message(model: Model) -> None:
    """Every message names a room (its type and fields are checked by the schema)."""
    enforce(room_refusal(model.data["room"]))


def pre_ttt_join(model: Model) -> None:
    """A room holds two players: a third visitor is refused, and watches instead."""
    game = _game(model)
    if game is not None:
        enforce(game.join_refusal(_player(model)))


def pre_ttt_move(model: Model) -> None:
    """Only a player moves, in turn, on a free cell, while the game is on."""
    game = _game(model)
    cell = model.data["cell"]
    enforce(NO_GAME if game is None else game.move_refusal(model.client_id, cell))


def pre_ttt_rematch(model: Model) -> None:
    """Only a player starts the next round, and only once this one is over."""
    game = _game(model)
    enforce(NO_GAME if game is None else game.rematch_refusal(model.client_id))
