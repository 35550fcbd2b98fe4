"""The board of tic-tac-toe: nine cells in a string, and what they say about the game."""

from __future__ import annotations

MARKS = ("X", "O")
EMPTY = "-"
CELLS = 9
EMPTY_BOARD = EMPTY * CELLS
LINES = (
    (0, 1, 2),
    (3, 4, 5),
    (6, 7, 8),
    (0, 3, 6),
    (1, 4, 7),
    (2, 5, 8),
    (0, 4, 8),
    (2, 4, 6),
)


def other(mark: str) -> str:
    """The other player's mark."""
    return "O" if mark == "X" else "X"


def winning_line(board: str) -> tuple[int, int, int] | None:
    """The first line of three equal marks on ``board``, or None."""
    for line in LINES:
        a, b, c = (board[cell] for cell in line)
        if a != EMPTY and a == b == c:
            return line
    return None


def is_full(board: str) -> bool:
    """Whether every cell is taken."""
    return EMPTY not in board


def place(board: str, cell: int, mark: str) -> str:
    """``board`` with ``mark`` in ``cell`` (0 to 8, left to right, top to bottom)."""
    return board[:cell] + mark + board[cell + 1 :]
