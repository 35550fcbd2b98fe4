"""What every transport does before it starts reading, and as it writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.http import HttpRequest

from thywill import conf, metrics
from thywill.edge.headers import header
from thywill.edge.sessions import authenticate
from thywill.exceptions import ErrorCode, RejectedError
from thywill.feed.connections import Connection
from thywill.feed.cursor import Cursor
from thywill.feed.feed import Batch, ClientFeed
from thywill.feed.shared import SharedFeed
from thywill.identity.tokens import ClientIdentity
from thywill.metrics import counters
from thywill.wiring.runtime import get_runtime

TOKEN_HEADER = "X-Thywill-Token"
"""The request header that carries the client's token to the long-poll and SSE
endpoints: never the URL, which access logs keep."""
TOKENS_HEADER = "X-Thywill-Tokens"
"""The request header of a shared connection: the tokens of its clients, separated by
commas (documentation/protocol.md, "Shared connections")."""


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
    token = header(request, TOKEN_HEADER)
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


def count_delivered(transport: str, batch: Batch) -> None:
    """Count the messages of ``batch``, just written to a client's connection: the
    inspector's counter, and the delivery latency metric."""
    metrics.delivered(transport, batch.messages)
    counters.delivered(len(batch.messages))


def parse_tokens(header: str) -> list[str]:
    """The tokens of an ``X-Thywill-Tokens`` header: separated by commas, each stripped
    of the whitespace around it (a token never holds a comma). A blank header names
    none."""
    if not header.strip():
        return []
    return [token.strip() for token in header.split(",")]


def check_shared_request(tokens: Sequence[object], cursors: Sequence[str]) -> None:
    """Check the shape of a shared connection's request: 1 to MAX_CLIENTS_PER_CONNECTION
    tokens, and one cursor per token.

    Raises:
        RejectedError: ``bad_request``.
    """
    if not tokens:
        raise RejectedError(ErrorCode.BAD_REQUEST, "A shared connection names no token.")
    limit = conf.get_limits().max_clients_per_connection
    if len(tokens) > limit:
        raise RejectedError(
            ErrorCode.BAD_REQUEST,
            f"A shared connection carries at most {limit} clients "
            f'(THYWILL_LIMITS["MAX_CLIENTS_PER_CONNECTION"]); this one names '
            f"{len(tokens)}.",
        )
    if len(cursors) != len(tokens):
        raise RejectedError(
            ErrorCode.BAD_REQUEST,
            f"A shared connection takes one 'cursor' parameter per token, in their "
            f"order; this one has {len(cursors)} for {len(tokens)} tokens.",
        )


async def new_shared_feed(
    tokens: Sequence[object], cursors: Sequence[str], cookies: Mapping[str, str]
) -> SharedFeed:
    """The feeds of a shared connection's clients, each authenticated and its session
    checked exactly as a single client's (``open_feed``).

    Raises:
        RejectedError: ``bad_request`` for a malformed request (``check_shared_request``);
            the refusal of a token, or ``bad_request`` for a client named twice, with
            the index of the token.
        PushUnavailableError: the push backend cannot be reached.
    """
    check_shared_request(tokens, cursors)
    feeds: list[ClientFeed] = []
    seen: set[str] = set()
    for index, (token, cursor) in enumerate(zip(tokens, cursors, strict=True)):
        try:
            identity = await authenticate(token, cookies)
            if identity.client_id in seen:
                raise RejectedError(
                    ErrorCode.BAD_REQUEST,
                    "A shared connection names the same client twice.",
                )
            seen.add(identity.client_id)
            feed = new_feed(identity, cursor)
            await feed.check_session()
        except RejectedError as error:
            raise error.at(index) from None
        feeds.append(feed)
    return SharedFeed(get_runtime().push, feeds)


async def open_shared_feed(request: HttpRequest, transport: str) -> SharedFeed:
    """``open_feed`` for a shared long-poll or SSE request: the tokens in the header
    ``X-Thywill-Tokens``, their cursors in the repeated ``cursor`` parameter.

    Raises:
        RejectedError: a disabled transport, a token in the query string, both token
            headers (``bad_request``), as ``new_shared_feed``.
        PushUnavailableError: the push backend cannot be reached.
    """
    require_enabled(transport)
    refuse_token_in_query(request.GET)
    if header(request, TOKEN_HEADER) is not None:
        raise RejectedError(
            ErrorCode.BAD_REQUEST,
            f"A request carries {TOKEN_HEADER} or {TOKENS_HEADER}, not both.",
        )
    tokens = parse_tokens(header(request, TOKENS_HEADER, ""))
    return await new_shared_feed(tokens, request.GET.getlist("cursor"), request.COOKIES)


def is_shared_request(request: HttpRequest) -> bool:
    """Whether a long-poll or SSE request is a shared connection's (names its clients
    in ``X-Thywill-Tokens``)."""
    return header(request, TOKENS_HEADER) is not None


def open_connections(feeds: Sequence[ClientFeed], transport: str) -> list[Connection]:
    """``open_connection`` for each client of a shared connection: each counts as a
    connection of its own; close them all when the shared connection ends.

    Raises:
        RejectedError: ``too_many_connections``, with the index of the client.
    """
    connections: list[Connection] = []
    for index, feed in enumerate(feeds):
        try:
            connections.append(open_connection(feed.identity, transport))
        except RejectedError as error:
            close_connections(connections)
            raise error.at(index) from None
    return connections


def close_connections(connections: Sequence[Connection]) -> None:
    """Close every connection of a shared connection (closing twice does nothing)."""
    for connection in connections:
        connection.close()
