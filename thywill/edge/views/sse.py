"""Server-Sent Events: one long response, an event per message, resumable by event id."""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator

from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse

from thywill import conf, metrics
from thywill.edge.errors import json_errors
from thywill.edge.feeds import (
    close_connections,
    is_shared_request,
    open_connection,
    open_connections,
    open_feed,
    open_shared_feed,
)
from thywill.edge.shutdown import drain, refusal
from thywill.exceptions import PushUnavailableError, RejectedError
from thywill.feed.budget import StreamBudget
from thywill.feed.connections import Connection
from thywill.feed.cursor import Cursor
from thywill.feed.feed import Batch, ClientFeed
from thywill.feed.shared import Ready, SharedFeed
from thywill.log.base import BaseLog
from thywill.metrics import counters
from thywill.wire.sse import (
    KEEPALIVE,
    batch_events,
    client_batch_event,
    error_event,
    open_event,
    shared_open_event,
)
from thywill.wiring.runtime import get_runtime


@json_errors(methods=("GET",))
async def sse(request: HttpRequest) -> HttpResponseBase:
    """Stream the client's messages after its cursor (``Last-Event-ID`` wins)."""
    if is_shared_request(request):
        return await _shared_sse(request)
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
    return _event_stream(stream)


def _event_stream(stream: AsyncIterator[str]) -> StreamingHttpResponse:
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


async def _shared_sse(request: HttpRequest) -> HttpResponseBase:
    """Stream the messages of several clients (``X-Thywill-Tokens``), each after its
    own cursor (the repeated ``cursor`` parameter; ``Last-Event-ID`` is not used)."""
    shared = await open_shared_feed(request, "sse")
    if drain.draining:
        raise refusal()
    starts = [feed.cursor for feed in shared.feeds]
    connections = open_connections(shared.feeds, "sse")
    try:
        first = await shared.next(0)  # as a single stream: a 503 rather than an end
    except BaseException:
        close_connections(connections)
        raise
    stream = _shared_stream(
        shared,
        connections,
        starts,
        first,
        keepalive=conf.get_limits().sse_keepalive,
        budget=StreamBudget(conf.get_limits().max_stream_bytes),
        log=get_runtime().log,
        path=request.path,
    )
    weakref.finalize(stream, close_connections, connections)
    return _event_stream(stream)


async def _shared_stream(
    shared: SharedFeed,
    connections: list[Connection],
    starts: list[Cursor],
    first: Ready,
    *,
    keepalive: float,
    budget: StreamBudget,
    log: BaseLog,
    path: str,
) -> AsyncIterator[str]:
    feeds = shared.feeds
    try:
        yield shared_open_event(starts)
        ready = first
        while True:
            if ready:
                events = "".join(
                    client_batch_event(feeds[index].identity.client_id, index, batch)
                    for index, batch in ready
                )
                yield events
                for _, batch in ready:
                    metrics.delivered("sse", batch.messages)
                    counters.delivered(len(batch.messages))
                if budget.spend(events):
                    return  # spent: the client reconnects from the last batches' cursors
            try:
                waited = await drain.unless_draining(shared.next(keepalive))
            except PushUnavailableError as exc:
                log.unavailable(exc, path=path)
                return
            except RejectedError as error:
                # One client was refused (its token expired, it was ended, its session
                # ended): say which, and end the stream; the others reconnect without it.
                index = error.index if error.index is not None else 0
                client_id = feeds[index].identity.client_id
                log.rejected(error, path=path, client_id=client_id)
                yield error_event(error)
                return
            if waited is None:
                return  # the process is stopping: the client reconnects, to another
            ready = waited
            if not ready:
                yield KEEPALIVE
    finally:
        close_connections(connections)
