"""A game of tic-tac-toe in the database: one row per room, the same on every process.

A seat belongs to a browser tab. A reloaded tab is a new client, so each seat records two
things: its player, the tab across its reloads (the logged-in user or the browser's
session, and the tab's own key: ``player_of``), so that a reloaded tab finds its seat and
the game where it was; and the client in it now, which alone may move, and whose
departure (its disconnect event, once its presence lease lapsed) frees the seat.
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


def player_of(user_id: str | None, session_hash: str, tab: str) -> str:
    """Who a client plays as: the tab ``tab`` of its logged-in user, or else of its
    browser session (two tabs of one browser are two players)."""
    who = f"user:{user_id}" if user_id is not None else f"session:{session_hash}"
    return f"{who}/{tab}"


class Status(models.TextChoices):
    """Where a game is."""

    WAITING = "waiting", "waiting for a second player"
    PLAYING = "playing", "playing"
    WON = "won", "won"
    DRAW = "draw", "draw"


class Game(models.Model):
    """The game of one room: its board, its two seats, whose turn it is, how it ended.

    The ``*_refusal`` methods say why an action is not allowed now (or None); the action
    methods change the game and assume the action was checked. Every change the room sees
    increments ``version``, so a page can tell a newer state from an older one.
    """

    room = models.CharField(max_length=32, unique=True)
    board = models.CharField(max_length=rules.CELLS, default=rules.EMPTY_BOARD)
    player_x = models.CharField(max_length=100, blank=True, default="")
    player_o = models.CharField(max_length=100, blank=True, default="")
    # The client in each seat now (a client id is 22 characters).
    client_x = models.CharField(max_length=22, blank=True, default="")
    client_o = models.CharField(max_length=22, blank=True, default="")
    starter = models.CharField(max_length=1, default="X")
    turn = models.CharField(max_length=1, default="X")
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.WAITING)
    winner = models.CharField(max_length=1, blank=True, default="")
    round = models.PositiveIntegerField(default=1)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.room}: {self.board} ({self.status})"

    def mark_of(self, client_id: str) -> str | None:
        """The mark of the client ``client_id`` in this game, or None for a watcher."""
        if client_id and client_id == self.client_x:
            return "X"
        if client_id and client_id == self.client_o:
            return "O"
        return None

    def seat_of(self, player: str) -> str | None:
        """The mark of ``player``'s seat, or None when it has none."""
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
        if self.seat_of(player) is None and self.player_x and self.player_o:
            return ROOM_FULL
        return None

    def seat(self, player: str, client_id: str) -> bool:
        """Seat ``player``, in the client ``client_id``: in its own seat again (a reload),
        or else X if free, then O. True when the room sees a change: a new player (the
        second one starts or resumes the game)."""
        if self.mark_of(client_id) is not None:
            return False  # seated already
        mark = self.seat_of(player)
        if mark is not None:
            self._hold(mark, player, client_id)
            return False
        self._hold("O" if self.player_x else "X", player, client_id)
        if self.player_x and self.player_o and self.status == Status.WAITING:
            self.status = Status.PLAYING
        self.version += 1
        return True

    def vacate(self, client_id: str) -> bool:
        """Free the seat of the client ``client_id`` (it is gone); True when it had one.

        A game on waits for a new player in the free seat, who takes it over; a room
        left empty starts afresh.
        """
        mark = self.mark_of(client_id)
        if mark is None:
            return False
        self._hold(mark, "", "")
        if not self.player_x and not self.player_o:
            self.board, self.winner, self.round = rules.EMPTY_BOARD, "", 1
            self.starter = self.turn = "X"
            self.status = Status.WAITING
        elif self.status == Status.PLAYING:
            self.status = Status.WAITING
        self.version += 1
        return True

    def _hold(self, mark: str, player: str, client_id: str) -> None:
        if mark == "X":
            self.player_x, self.client_x = player, client_id
        else:
            self.player_o, self.client_o = player, client_id

    # --- playing ----------------------------------------------------------------------

    def move_refusal(self, client_id: str, cell: int) -> Refusal | None:
        """Why the client ``client_id`` cannot play ``cell`` (0 to 8) now."""
        mark = self.mark_of(client_id)
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

    def rematch_refusal(self, client_id: str) -> Refusal | None:
        """Why the client ``client_id`` cannot start a new round now."""
        if self.mark_of(client_id) is None:
            return WATCHING
        if not self.is_over:
            return NOT_OVER
        return None

    def rematch(self) -> None:
        """Start the next round on an empty board; the other player starts it, once
        both seats are taken."""
        self.board = rules.EMPTY_BOARD
        self.starter = self.turn = rules.other(self.starter)
        seated = self.player_x and self.player_o
        self.status = Status.PLAYING if seated else Status.WAITING
        self.winner = ""
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
