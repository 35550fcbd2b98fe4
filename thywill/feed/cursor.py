"""The cursor: a client's position in each of its channels, as one opaque string.

The same cursor resumes every transport (long-poll parameter, SSE ``Last-Event-ID``,
WebSocket). It is URL-safe base64 of a compact JSON object ``{channel: position}``.
Nothing in it is secret or trusted: a client can only ever read its own channels, so a
tampered cursor can only make that client's own reads start elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping

from thywill.exceptions import ErrorCode, RejectedError

MAX_CURSOR_LENGTH = 4096

_ENCODER = json.JSONEncoder(separators=(",", ":"))
"""One encoder for every cursor: ``json.dumps`` with options makes one per call."""


class Cursor(Mapping[str, str]):
    """An immutable mapping of channel name to the last position the client saw."""

    __slots__ = ("_positions",)

    def __init__(self, positions: Mapping[str, str] | None = None) -> None:
        self._positions: dict[str, str] = dict(positions or {})

    def __getitem__(self, channel: str) -> str:
        return self._positions[channel]

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)

    def __repr__(self) -> str:
        return f"Cursor({self._positions!r})"

    def positions(self) -> dict[str, str]:
        """The positions as a new dict (faster than ``dict(cursor)``, which goes
        through the ``Mapping`` methods key by key)."""
        return dict(self._positions)

    def advanced(self, channel: str, position: str) -> Cursor:
        """A copy of this cursor with ``channel`` moved to ``position``."""
        positions = dict(self._positions)
        positions[channel] = position
        return Cursor(positions)

    def restricted(self, channels: list[str]) -> Cursor:
        """A copy that keeps only the given channels (drops ones the client left)."""
        return Cursor({c: p for c, p in self._positions.items() if c in channels})

    def encode(self) -> str:
        """The opaque string form; the empty cursor encodes as ``""``."""
        if not self._positions:
            return ""
        raw = _ENCODER.encode(self._positions).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, value: str | None) -> Cursor:
        """Parse a cursor string; ``None`` or ``""`` give the empty cursor.

        Raises:
            RejectedError: ``bad_cursor`` when the string is not a cursor.
        """
        if not value:
            return cls()
        if len(value) > MAX_CURSOR_LENGTH:
            raise RejectedError(ErrorCode.BAD_CURSOR, "The cursor is too long.")
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            positions = json.loads(raw)
        except (binascii.Error, ValueError, RecursionError) as exc:
            raise RejectedError(
                ErrorCode.BAD_CURSOR, "The cursor cannot be decoded."
            ) from exc
        if not isinstance(positions, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in positions.items()
        ):
            raise RejectedError(
                ErrorCode.BAD_CURSOR, "The cursor does not map channels to positions."
            )
        return cls(positions)
