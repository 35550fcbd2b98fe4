"""What every transport does before it starts reading."""

from __future__ import annotations

from collections.abc import Mapping

from django.http import HttpRequest

from thywill import conf, metrics
from thywill.edge.sessions import authenticate
from thywill.exceptions import ErrorCode, RejectedError
from thywill.feed.connections import Connection
from thywill.feed.cursor import Cursor
from thywill.feed.feed import ClientFeed
from thywill.identity.tokens import ClientIdentity
from thywill.metrics import counters
from thywill.wiring.runtime import get_runtime

TOKEN_HEADER = "X-Thywill-Token"
"""The request header that carries the client's token to the long-poll and SSE
endpoints: never the URL, which access logs keep."""


def refuse_token_in_query(query: Mapping[str, object]) -> None:
    """Refuse a token in the query string, so that nobody keeps putting it there.

    The token is a credential: in a URL it lands in the access log of every server and
    proxy along the way. The refusal never repeats it.

    Raises:
        RejectedError: ``bad_request``.
    """
    if "token" in query:
        raise RejectedError(
            ErrorCode.BAD_REQUEST,
            "The token goes in the X-Thywill-Token header (WebSocket: in the auth "
            "frame), never in the URL.",
        )


def require_enabled(transport: str) -> None:
    """Refuse a transport that THYWILL_TRANSPORTS does not list.

    Raises:
        RejectedError: ``bad_transport``.
    """
    if transport not in conf.get_transports():
        raise RejectedError(
            ErrorCode.BAD_TRANSPORT, f"The {transport} transport is not enabled here."
        )


def new_feed(identity: ClientIdentity, cursor: str | None) -> ClientFeed:
    """The client's feed from ``cursor``.

    Raises:
        RejectedError: ``bad_cursor``.
    """
    return get_runtime().feed(identity, Cursor.decode(cursor))


async def open_feed(request: HttpRequest, transport: str, cursor: str | None) -> ClientFeed:
    """Check the transport is enabled, the token (header ``X-Thywill-Token``) valid and
    its session not ended; build the client's feed.

    Raises:
        RejectedError: a disabled transport, a token in the query string
            (``bad_request``), a bad token, an ended session or a bad cursor.
        PushUnavailableError: the push backend cannot be reached.
    """
    require_enabled(transport)
    refuse_token_in_query(request.GET)
    token = request.headers.get(TOKEN_HEADER)
    feed = new_feed(await authenticate(token, request.COOKIES), cursor)
    await feed.check_session()
    return feed


def open_connection(identity: ClientIdentity, transport: str) -> Connection:
    """Count a transport connection of the client; close it when the connection ends.

    Raises:
        RejectedError: ``too_many_connections``, over
            THYWILL_LIMITS["MAX_CONNECTIONS_PER_CLIENT"] in this process.
    """
    connections = get_runtime().connections
    connection = connections.open(identity.client_id)
    # Counted only once the limiter took it: a refusal is no connection.
    metric_closed = metrics.connection_opened(transport, identity.application)
    counters.opened(transport)

    def closed() -> None:
        counters.closed(transport)
        if metric_closed is not None:
            metric_closed()

    connection.on_close = closed
    return connection
