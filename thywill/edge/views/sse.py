"""Server-Sent Events: one long response, an event per message, resumable by event id."""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse

from thywill import conf
from thywill.edge.errors import json_errors
from thywill.edge.feeds import (
    close_connections,
    count_delivered,
    is_shared_request,
    open_connection,
    open_connections,
    open_feed,
    open_shared_feed,
)
from thywill.edge.headers import header
from thywill.edge.shutdown import drain, refusal
from thywill.exceptions import PushUnavailableError, RejectedError
from thywill.feed.budget import StreamBudget
from thywill.feed.connections import Connection
from thywill.feed.feed import Batch, ClientFeed
from thywill.feed.shared import Ready, next_of_one
from thywill.log.base import BaseLog
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
    cursor = header(request, "Last-Event-ID") or request.GET.get("cursor")
    feed = await open_feed(request, "sse", cursor)
    if drain.draining:
        raise refusal()
    start = before = feed.cursor

    async def following(timeout: float) -> Ready:
        nonlocal before
        before = feed.cursor  # each event's id is the cursor just past it, from here
        return await next_of_one(feed, timeout)

    return await _respond(
        request,
        (feed,),
        [open_connection(feed.identity, "sse")],
        open_event(start),
        following,
        lambda _, batch: batch_events(batch, before),
        tell_refusal=False,
    )


async def _shared_sse(request: HttpRequest) -> HttpResponseBase:
    """Stream the messages of several clients (``X-Thywill-Tokens``), each after its
    own cursor (the repeated ``cursor`` parameter; ``Last-Event-ID`` is not used)."""
    shared = await open_shared_feed(request, "sse")
    if drain.draining:
        raise refusal()
    feeds = shared.feeds
    return await _respond(
        request,
        feeds,
        open_connections(feeds, "sse"),
        shared_open_event([feed.cursor for feed in feeds]),
        shared.next,
        lambda index, batch: client_batch_event(
            feeds[index].identity.client_id, index, batch
        ),
        tell_refusal=True,
    )


async def _respond(
    request: HttpRequest,
    feeds: Sequence[ClientFeed],
    connections: list[Connection],
    opening: str,
    following: Callable[[float], Awaitable[Ready]],
    encode: Callable[[int, Batch], str],
    *,
    tell_refusal: bool,
) -> HttpResponseBase:
    """The event stream of ``feeds``, once a first read succeeded: while the push
    backend is down the client gets a 503 (and backs off) instead of a stream that
    opens and ends at once."""
    try:
        first = await following(0)
    except BaseException:
        close_connections(connections)
        raise
    stream = _stream(
        feeds,
        connections,
        opening,
        first,
        following,
        encode,
        tell_refusal=tell_refusal,
        keepalive=conf.get_limits().sse_keepalive,
        budget=StreamBudget(conf.get_limits().max_stream_bytes),
        log=get_runtime().log,
        path=request.path,
    )
    # A stream that never starts (its client left first) never runs its ``finally``:
    # its connections are closed when it is dropped.
    weakref.finalize(stream, close_connections, connections)
    response = StreamingHttpResponse(stream, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _stream(
    feeds: Sequence[ClientFeed],
    connections: list[Connection],
    opening: str,
    first: Ready,
    following: Callable[[float], Awaitable[Ready]],
    encode: Callable[[int, Batch], str],
    *,
    tell_refusal: bool,
    keepalive: float,
    budget: StreamBudget,
    log: BaseLog,
    path: str,
) -> AsyncIterator[str]:
    try:
        yield opening
        # A stream waits for most of its life, and keeps nothing it has written while
        # it waits: not the opening's 2 KiB of padding, nor the last batch or events.
        ready, first, opening = first, [], ""
        while True:
            if ready:
                events = "".join(encode(index, batch) for index, batch in ready)
                yield events
                for _, batch in ready:
                    count_delivered("sse", batch)
                spent = budget.spend(events)
                ready, events = [], ""
                if spent:
                    return  # spent: the client reconnects from the last events' cursors
            try:
                waited = await drain.unless_draining(following(keepalive))
            except PushUnavailableError as exc:
                # The status line is long gone: end the stream; the client reconnects
                # with its cursor and gets a 503 until the backend is back.
                log.unavailable(exc, path=path)
                return
            except RejectedError as error:
                # A client was refused (its token expired, it was ended, its session
                # ended): end the stream; reconnecting shows the client why. A shared
                # stream says which client first, and the others reconnect without it.
                index = error.index if error.index is not None else 0
                log.rejected(error, path=path, client_id=feeds[index].identity.client_id)
                if tell_refusal:
                    yield error_event(error)
                return
            if waited is None:
                return  # the process is stopping: the client reconnects, to another
            ready = waited
            if not ready:
                yield KEEPALIVE
    finally:
        close_connections(connections)
