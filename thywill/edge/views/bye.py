"""The bye endpoint: a page that goes away says so, and its client leaves at once."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from thywill import conf
from thywill.edge.csrf import csrf_protect
from thywill.edge.errors import json_errors
from thywill.edge.sessions import authenticate
from thywill.feed.sessions import check_session
from thywill.wire.inbound import parse_bye_body
from thywill.wiring.runtime import get_runtime


@json_errors(methods=("POST",))
@csrf_protect  # a POST that ends a client: checked (CSRF token, Origin) as a send is
async def bye(request: HttpRequest) -> HttpResponse:
    """Serve ``POST /thywill/bye/`` with ``{"token"}``: end the token's client for good
    and run its disconnect event now, instead of when its presence lease lapses;
    answer ``204``. A client already ended is left as it is."""
    token = parse_bye_body(request.body, max_bytes=conf.get_limits().max_message_bytes)
    identity = await authenticate(token, request.COOKIES)
    runtime = get_runtime()
    await check_session(runtime.push, identity)
    if await runtime.events.end_client(identity):
        await runtime.presence.end(identity)
    return HttpResponse(status=204)
