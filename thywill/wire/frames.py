"""The WebSocket transport's frames and close codes (documentation/protocol.md).

Every refusal is an ``error`` frame followed by a close whose code is 4000 plus the HTTP
status of the error and whose reason is the error code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from thywill.exceptions import RejectedError
from thywill.feed.cursor import Cursor
from thywill.types import JSON

CLOSE_CODE_BASE = 4000
"""A refusal closes with this plus the HTTP status of its error (4403 for bad_token)."""
KEEPALIVE_FRAME = '{"type":"keepalive"}'


def close_code(error: RejectedError) -> int:
    """The close code of a refusal: 4000 plus the error's HTTP status."""
    return CLOSE_CODE_BASE + error.status


def error_frame(error: RejectedError) -> str:
    """The ``error`` frame sent just before a refusal closes the socket."""
    return json.dumps({"type": "error", "error": error.as_json()})


def open_frame(start: Cursor) -> str:
    """The first frame of a feed: ``open`` with the starting cursor."""
    return json.dumps({"type": "open", "cursor": start.encode()})


def shared_open_frame(starts: Sequence[Cursor]) -> str:
    """The first frame of a shared socket: ``open`` with each client's starting cursor,
    in the order of the auth frame's tokens."""
    return json.dumps({"type": "open", "cursors": [start.encode() for start in starts]})


def sent_answer(results: list[dict[str, JSON]]) -> str:
    """The answer to a ``send`` frame, ``{"results": [...]}``: a result per message, as
    the HTTP send's. It goes out as a ``sent`` frame (``sent_frame``) or inside a batch
    frame (``encode_batch(..., sent=...)``)."""
    return json.dumps({"results": results})


def refused_send_answer(error: RejectedError) -> str:
    """The answer to a ``send`` frame refused as a whole, with the HTTP send's status:
    what the client does next depends on it (a 4xx rejects the batch, a 503 resends
    it)."""
    return json.dumps({"status": error.status, "error": error.as_json()})


def sent_frame(answer: str) -> str:
    """A ``sent`` frame carrying ``answer`` (``sent_answer`` or ``refused_send_answer``)."""
    return '{"type":"sent",' + answer[1:]
