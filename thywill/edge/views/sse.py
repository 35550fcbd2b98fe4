"""Server-Sent Events: one long response, an event per message, resumable by event id."""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator

from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse

from thywill import conf, metrics
from thywill.edge.errors import json_errors
from thywill.edge.feeds import open_connection, open_feed
from thywill.edge.shutdown import drain, refusal
from thywill.exceptions import PushUnavailableError, RejectedError
from thywill.feed.budget import StreamBudget
from thywill.feed.connections import Connection
from thywill.feed.cursor import Cursor
from thywill.feed.feed import Batch, ClientFeed
from thywill.log.base import BaseLog
from thywill.metrics import counters
from thywill.wire.sse import KEEPALIVE, batch_events, open_event
from thywill.wiring.runtime import get_runtime


@json_errors(methods=("GET",))
async def sse(request: HttpRequest) -> HttpResponseBase:
    """Stream the client's messages after its cursor (``Last-Event-ID`` wins)."""
    cursor = request.headers.get("Last-Event-ID") or request.GET.get("cursor")
    feed = await open_feed(request, "sse", cursor)
    if drain.draining:
        raise refusal()
    start = feed.cursor
    connection = open_connection(feed.identity, "sse")
    try:
        # Read once before answering: while the push backend is down the client gets a
        # 503 (and backs off) instead of a stream that opens and ends at once.
        first = await feed.next(0)
    except BaseException:
        connection.close()
        raise
    stream = _stream(
        feed,
        connection,
        start,
        first,
        keepalive=conf.get_limits().sse_keepalive,
        budget=StreamBudget(conf.get_limits().max_stream_bytes),
        log=get_runtime().log,
        path=request.path,
    )
    # A stream that never starts (its client left first) never runs its ``finally``:
    # its connection is closed when it is dropped.
    weakref.finalize(stream, connection.close)
    response = StreamingHttpResponse(stream, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _stream(
    feed: ClientFeed,
    connection: Connection,
    start: Cursor,
    first: Batch,
    *,
    keepalive: float,
    budget: StreamBudget,
    log: BaseLog,
    path: str,
) -> AsyncIterator[str]:
    try:
        yield open_event(start)
        batch, cursor = first, start
        while True:
            if batch:
                events = batch_events(batch, cursor)
                yield events
                metrics.delivered("sse", batch.messages)
                counters.delivered(len(batch.messages))
                if budget.spend(events):
                    return  # spent: the client reconnects from the last event's id
            cursor = feed.cursor
            try:
                waited = await drain.unless_draining(feed.next(keepalive))
            except PushUnavailableError as exc:
                # The status line is long gone: end the stream; the client reconnects
                # with its cursor and gets a 503 until the backend is back.
                log.unavailable(exc, path=path)
                return
            except RejectedError as error:
                # The token expired: end the stream; reconnecting shows the client why.
                log.rejected(error, path=path, client_id=feed.identity.client_id)
                return
            if waited is None:
                return  # the process is stopping: the client reconnects, to another
            batch = waited
            if not batch:
                yield KEEPALIVE
    finally:
        connection.close()
