"""Why a join, a move or a new game is refused: one code and one reason each.

The hook scripts refuse with these before the handlers run, and the handlers check
again under the game's row lock (a concurrent move may have been played in between), so
the player is told the same reason either way.
"""

from __future__ import annotations

import dataclasses

from thywill import fail


@dataclasses.dataclass(frozen=True, slots=True)
class Refusal:
    """A rule that stops the flow: ``code`` for the page, ``reason`` for the player."""

    code: str
    reason: str


def enforce(refusal: Refusal | None) -> None:
    """Stop the flow with ``refusal``, if there is one: the client's ``send()`` Promise
    rejects with its code and reason."""
    if refusal is not None:
        fail(refusal.reason, code=refusal.code)


BAD_ROOM = Refusal("bad_room", "A room name is 1 to 32 lower-case letters, digits and '-'.")
NO_GAME = Refusal("no_game", "No game in this room yet: join it first.")
ROOM_FULL = Refusal("room_full", "Room full: you are watching.")
WATCHING = Refusal("watching", "You are watching: only the two players move.")
NOT_STARTED = Refusal("not_started", "Waiting for a second player.")
NOT_YOUR_TURN = Refusal("not_your_turn", "Not your turn.")
CELL_TAKEN = Refusal("cell_taken", "That cell is taken.")
GAME_OVER = Refusal("game_over", "This game is over: start a new one.")
NOT_OVER = Refusal("not_over", "Finish this game first.")
