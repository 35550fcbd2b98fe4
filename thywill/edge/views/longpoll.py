"""Long-poll: one request, one batch (or an empty answer at the timeout)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from thywill import conf, metrics
from thywill.edge.errors import json_errors
from thywill.edge.feeds import open_connection, open_feed
from thywill.edge.shutdown import drain
from thywill.metrics import counters
from thywill.wire.outbound import encode_batch


@json_errors(methods=("GET",))
async def longpoll(request: HttpRequest) -> HttpResponse:
    """Answer with the client's messages after its cursor, waiting for some if needed."""
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
    metrics.delivered("longpoll", batch.messages)
    counters.delivered(len(batch.messages))
    return response
