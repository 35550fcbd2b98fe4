"""Server-Sent Events: one long response, an event per message, resumable by event id."""

from __future__ import annotations

from collections.abc import AsyncIterator

from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse

from thywill import conf
from thywill.edge.errors import json_errors
from thywill.edge.feeds import open_feed
from thywill.exceptions import PushUnavailableError, RejectedError
from thywill.feed.cursor import Cursor
from thywill.feed.feed import Batch, ClientFeed
from thywill.wire.envelope import encode_delivery, encode_reset
from thywill.wiring.components import components

# Some proxies and browsers hold back the first bytes of a response; 2 KiB of comment
# pushes the stream past them so the client sees the open event at once.
PADDING = ":" + " " * 2048 + "\n\n"
KEEPALIVE = "event: keepalive\ndata: {}\n\n"


def sse_event(event: str, data: str, event_id: str | None = None) -> str:
    """One event in text/event-stream format (``data`` is one line of JSON)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


@json_errors(methods=("GET",))
async def sse(request: HttpRequest) -> HttpResponseBase:
    """Stream the client's messages after its cursor (``Last-Event-ID`` wins)."""
    cursor = request.headers.get("Last-Event-ID") or request.GET.get("cursor")
    feed = open_feed(request, "sse", cursor)
    start = feed.cursor
    # Read once before answering: while the push backend is down the client gets a 503
    # (and backs off) instead of a stream that opens and ends at once.
    first = await feed.next(0)
    response = StreamingHttpResponse(
        _stream(feed, start, first, conf.get_limits().sse_keepalive, request.path),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _stream(
    feed: ClientFeed, start: Cursor, first: Batch, keepalive: float, path: str
) -> AsyncIterator[str]:
    yield PADDING + sse_event("open", f'{{"cursor":"{start.encode()}"}}', start.encode())
    if first:
        yield _events(first, start)
    cursor = feed.cursor
    while True:
        try:
            batch = await feed.next(keepalive)
        except PushUnavailableError as exc:
            # The status line is long gone: end the stream; the client reconnects with
            # its cursor and gets a 503 until the backend is back.
            components.log.unavailable(exc, path=path)
            return
        except RejectedError as error:
            # The token expired: end the stream; reconnecting shows the client why.
            components.log.rejected(error, path=path, client_id=feed.identity.client_id)
            return
        if not batch:
            yield KEEPALIVE
            continue
        yield _events(batch, cursor)
        cursor = batch.cursor


def _events(batch: Batch, cursor: Cursor) -> str:
    """A batch as SSE events, each with the cursor just past it as its id."""
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
