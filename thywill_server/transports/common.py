"""What every HTTP transport does before it starts reading."""

from __future__ import annotations

from django.http import HttpRequest

from thywill_server import conf
from thywill_server.components import components
from thywill_server.cursor import Cursor
from thywill_server.delivery import ClientFeed
from thywill_server.views.errors import identify


def open_feed(request: HttpRequest, cursor: str | None) -> ClientFeed:
    """Check the request's token and build the client's feed from its cursor.

    Raises:
        RejectedError: a bad token or cursor.
    """
    identity = identify(request, request.GET.get("token"))
    return ClientFeed(
        components.push,
        identity,
        Cursor.decode(cursor),
        limit=conf.get_limits().read_batch,
    )
