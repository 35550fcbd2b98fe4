"""The bye endpoint: a page that goes away says so, and its client leaves within
BYE_GRACE seconds, unless the page comes back (a reload) meanwhile."""

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
    """Serve ``POST /thywill/bye/`` with ``{"token"}``: shorten the client's presence
    lease to BYE_GRACE seconds, so that its disconnect event runs then rather than when
    a whole lease lapses, unless the page is back by then; answer ``204``."""
    limits = conf.get_limits()
    token = parse_bye_body(request.body, max_bytes=limits.max_message_bytes)
    identity = await authenticate(token, request.COOKIES)
    runtime = get_runtime()
    await check_session(runtime.push, identity)
    await runtime.presence.leave_soon(identity, min(limits.bye_grace, limits.presence_ttl))
    return HttpResponse(status=204)
