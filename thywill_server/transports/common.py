"""What every HTTP transport does before it starts reading."""

from __future__ import annotations

from django.http import HttpRequest

from thywill_server import conf
from thywill_server.components import components
from thywill_server.cursor import Cursor
from thywill_server.delivery import ClientFeed
from thywill_server.exceptions import ErrorCode, RejectedError
from thywill_server.views.errors import identify


def open_feed(request: HttpRequest, transport: str, cursor: str | None) -> ClientFeed:
    """Check the transport is enabled and the token valid; build the client's feed.

    Raises:
        RejectedError: a disabled transport, a bad token or a bad cursor.
    """
    if transport not in conf.get_transports():
        raise RejectedError(
            ErrorCode.BAD_TRANSPORT, f"The {transport} transport is not enabled here."
        )
    identity = identify(request, request.GET.get("token"))
    return ClientFeed(
        components.push,
        identity,
        Cursor.decode(cursor),
        limit=conf.get_limits().read_batch,
    )
