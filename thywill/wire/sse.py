"""The Server-Sent Events framing of a client's feed (documentation/protocol.md)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from thywill.exceptions import RejectedError
from thywill.feed.cursor import Cursor
from thywill.feed.feed import Batch
from thywill.wire.outbound import encode_client_batch, encode_delivery, encode_reset

# Some proxies and browsers hold back the first bytes of a response; 2 KiB of comment
# pushes the stream past them so the client sees the open event at once.
PADDING = ":" + " " * 2048 + "\n\n"
KEEPALIVE = "event: keepalive\ndata: {}\n\n"


def sse_event(event: str, data: str, event_id: str | None = None) -> str:
    """One event in text/event-stream format (``data`` is one line of JSON)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


def open_event(start: Cursor) -> str:
    """The first chunk of a stream: the padding, then ``open`` with the starting cursor."""
    cursor = start.encode()
    return PADDING + sse_event("open", f'{{"cursor":"{cursor}"}}', cursor)


def batch_events(batch: Batch, cursor: Cursor) -> str:
    """A batch as SSE events, each with the cursor just past it as its id (``cursor``
    is where the stream stood before the batch)."""
    chunks = []
    if batch.reset_channels:
        # The id of the reset moves the client past lost history only as far as the
        # first message that follows it; each message then carries its own cursor.
        cursor = cursor.restricted([c for c in cursor if c not in batch.reset_channels])
        reset = encode_reset(batch.reset_channels)
        chunks.append(sse_event("reset", reset, cursor.encode()))
    for message in batch.messages:
        cursor = cursor.advanced(message.channel, message.position)
        chunks.append(sse_event("message", encode_delivery(message), cursor.encode()))
    return "".join(chunks)


def shared_open_event(starts: Sequence[Cursor]) -> str:
    """The first chunk of a shared stream: the padding, then ``open`` with each
    client's starting cursor, in the order of the tokens (no ``id:``: a shared stream
    resumes by its ``cursor`` parameters only)."""
    cursors = ",".join(f'"{start.encode()}"' for start in starts)
    return PADDING + sse_event("open", f'{{"cursors":[{cursors}]}}')


def client_batch_event(client_id: str, index: int, batch: Batch) -> str:
    """A batch of one client of a shared stream: one ``batch`` event, no ``id:``."""
    return sse_event("batch", encode_client_batch(client_id, batch, index=index))


def error_event(error: RejectedError) -> str:
    """The last event of a shared stream when one of its clients is refused: ``error``
    with the usual ``{"code", "message", "index"}`` object."""
    return sse_event("error", json.dumps({"error": error.as_json()}))
