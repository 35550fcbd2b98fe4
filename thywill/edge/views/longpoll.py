"""Long-poll: one request, one batch (or an empty answer at the timeout)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

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
from thywill.edge.shutdown import drain
from thywill.feed.feed import Batch
from thywill.wire.outbound import encode_batch, encode_batches


@json_errors(methods=("GET",))
async def longpoll(request: HttpRequest) -> HttpResponse:
    """Answer with the client's messages after its cursor, waiting for some if needed."""
    if is_shared_request(request):
        return await _shared_longpoll(request)
    feed = await open_feed(request, "longpoll", request.GET.get("cursor"))
    connection = open_connection(feed.identity, "longpoll")
    try:
        if request.GET.get("wait") == "0":
            batch = await feed.next(0)  # a read renews the client's lease, as any does
        else:
            limit = conf.get_limits().longpoll_timeout
            waited = await drain.unless_draining(feed.next(limit))
            # The process is stopping: answer what is there now; the next poll goes to
            # a process that stays.
            batch = await feed.read() if waited is None else waited
    finally:
        connection.close()
    response = HttpResponse(encode_batch(batch), content_type="application/json")
    response["Cache-Control"] = "no-store"
    count_delivered("longpoll", batch)
    return response


async def _shared_longpoll(request: HttpRequest) -> HttpResponse:
    """A long-poll of several clients (``X-Thywill-Tokens``): answers as soon as any of
    them has something, with a batch for every client, in the order of the tokens."""
    shared = await open_shared_feed(request, "longpoll")
    connections = open_connections(shared.feeds, "longpoll")
    try:
        if request.GET.get("wait") == "0":
            ready = await shared.next(0)
        else:
            limit = conf.get_limits().longpoll_timeout
            waited = await drain.unless_draining(shared.next(limit))
            ready = await shared.read() if waited is None else waited
    finally:
        close_connections(connections)
    got = dict(ready)
    batches = []
    for index, feed in enumerate(shared.feeds):
        # A client with nothing still gets its batch: its cursor may have moved.
        batch = got.get(index) or Batch((), (), feed.cursor)
        batches.append((feed.identity.client_id, batch))
        count_delivered("longpoll", batch)
    response = HttpResponse(encode_batches(batches), content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response
