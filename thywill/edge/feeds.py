"""What every transport does before it starts reading."""

from __future__ import annotations

from django.http import HttpRequest

from thywill import conf
from thywill.exceptions import ErrorCode, RejectedError
from thywill.feed.connections import Connection
from thywill.feed.cursor import Cursor
from thywill.feed.feed import ClientFeed
from thywill.identity.tokens import ClientIdentity, identify
from thywill.wiring.runtime import get_runtime


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


def open_feed(request: HttpRequest, transport: str, cursor: str | None) -> ClientFeed:
    """Check the transport is enabled and the token valid; build the client's feed.

    Raises:
        RejectedError: a disabled transport, a bad token or a bad cursor.
    """
    require_enabled(transport)
    return new_feed(identify(request.GET.get("token"), request.COOKIES), cursor)


def open_connection(identity: ClientIdentity) -> Connection:
    """Count a transport connection of the client; close it when the connection ends.

    Raises:
        RejectedError: ``too_many_connections``, over
            THYWILL_LIMITS["MAX_CONNECTIONS_PER_CLIENT"] in this process.
    """
    return get_runtime().connections.open(identity.client_id)
