"""A game of tic-tac-toe in the database: one row per room, the same on every process.

Players are recorded by who they are across page loads, not by client id (a reloaded tab
is a new client): the logged-in user, or else the browser's session (``player_of``). So a
reloaded or reconnected tab of a player finds its seat and the game where it was.
"""

from __future__ import annotations

import re

from django.db import models

from thywill import JSON
from thywill_apps.tictactoe import board as rules
from thywill_apps.tictactoe.refusals import (
    BAD_ROOM,
    CELL_TAKEN,
    GAME_OVER,
    NOT_OVER,
    NOT_STARTED,
    NOT_YOUR_TURN,
    ROOM_FULL,
    WATCHING,
    Refusal,
)

ROOM_NAME = re.compile(r"[a-z0-9-]{1,32}")


def room_refusal(room: str) -> Refusal | None:
    """Why ``room`` cannot name a room, or None when it can."""
    return None if ROOM_NAME.fullmatch(room) else BAD_ROOM


def player_of(user_id: str | None, session_hash: str) -> str:
    """Who a client plays as: its logged-in user, or else its browser session."""
    return f"user:{user_id}" if user_id is not None else f"session:{session_hash}"


class Status(models.TextChoices):
    """Where a game is."""

    WAITING = "waiting", "waiting for a second player"
    PLAYING = "playing", "playing"
    WON = "won", "won"
    DRAW = "draw", "draw"


class Game(models.Model):
    """The game of one room: its board, its two seats, whose turn it is, how it ended.

    The ``*_refusal`` methods say why an action is not allowed now (or None); the action
    methods change the game and assume the action was checked. Every change increments
    ``version``, so a page can tell a newer state from an older one.
    """

    room = models.CharField(max_length=32, unique=True)
    board = models.CharField(max_length=rules.CELLS, default=rules.EMPTY_BOARD)
    player_x = models.CharField(max_length=100, blank=True, default="")
    player_o = models.CharField(max_length=100, blank=True, default="")
    starter = models.CharField(max_length=1, default="X")
    turn = models.CharField(max_length=1, default="X")
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.WAITING)
    winner = models.CharField(max_length=1, blank=True, default="")
    round = models.PositiveIntegerField(default=1)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.room}: {self.board} ({self.status})"

    def mark_of(self, player: str) -> str | None:
        """The mark of ``player`` in this game, or None for a watcher."""
        if player == self.player_x:
            return "X"
        if player == self.player_o:
            return "O"
        return None

    @property
    def is_over(self) -> bool:
        """Whether the round ended in a win or a draw."""
        return self.status in (Status.WON, Status.DRAW)

    # --- joining ----------------------------------------------------------------------

    def join_refusal(self, player: str) -> Refusal | None:
        """Why ``player`` cannot take a seat: both are taken by others."""
        if self.mark_of(player) is None and self.player_x and self.player_o:
            return ROOM_FULL
        return None

    def seat(self, player: str) -> bool:
        """Seat ``player`` (X first, then O); False when it had a seat already. The
        second seat starts the game."""
        if self.mark_of(player) is not None:
            return False
        if not self.player_x:
            self.player_x = player
        else:
            self.player_o = player
        if self.player_x and self.player_o:
            self.status = Status.PLAYING
        self.version += 1
        return True

    # --- playing ----------------------------------------------------------------------

    def move_refusal(self, player: str, cell: int) -> Refusal | None:
        """Why ``player`` cannot play ``cell`` (0 to 8) now."""
        mark = self.mark_of(player)
        if mark is None:
            return WATCHING
        if self.status == Status.WAITING:
            return NOT_STARTED
        if self.is_over:
            return GAME_OVER
        if mark != self.turn:
            return NOT_YOUR_TURN
        if self.board[cell] != rules.EMPTY:
            return CELL_TAKEN
        return None

    def play(self, cell: int) -> None:
        """Put the mark whose turn it is in ``cell``; end the round on a line or a full
        board, else pass the turn."""
        self.board = rules.place(self.board, cell, self.turn)
        if rules.winning_line(self.board) is not None:
            self.status, self.winner = Status.WON, self.turn
        elif rules.is_full(self.board):
            self.status = Status.DRAW
        else:
            self.turn = rules.other(self.turn)
        self.version += 1

    # --- a new round --------------------------------------------------------------------

    def rematch_refusal(self, player: str) -> Refusal | None:
        """Why ``player`` cannot start a new round now."""
        if self.mark_of(player) is None:
            return WATCHING
        if not self.is_over:
            return NOT_OVER
        return None

    def rematch(self) -> None:
        """Start the next round on an empty board; the other player starts it."""
        self.board = rules.EMPTY_BOARD
        self.starter = self.turn = rules.other(self.starter)
        self.status, self.winner = Status.PLAYING, ""
        self.round += 1
        self.version += 1

    def state(self) -> dict[str, JSON]:
        """What every page of the room is shown: a ``ttt.state`` message."""
        line = rules.winning_line(self.board)
        return {
            "type": "ttt.state",
            "room": self.room,
            "version": self.version,
            "board": ["" if c == rules.EMPTY else c for c in self.board],
            "status": self.status,
            "turn": self.turn,
            "starter": self.starter,
            "winner": self.winner or None,
            "line": list(line) if line is not None else None,
            "round": self.round,
            "seats": {"X": bool(self.player_x), "O": bool(self.player_o)},
        }
