"""The bootstrap page: issues a client identity and loads the application's client code."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.csrf import ensure_csrf_cookie

from thywill import conf
from thywill.edge.errors import json_errors
from thywill.exceptions import ErrorCode, RejectedError, UnknownApplicationError
from thywill.identity.tokens import (
    ClientIdentity,
    issue_token,
    new_client_id,
    session_hash,
)
from thywill.wire.results import Outcome
from thywill.wiring.runtime import get_runtime


@json_errors(methods=("GET",))
@ensure_csrf_cookie  # the send endpoint checks it; the project may not set it otherwise
@xframe_options_deny
async def init(request: HttpRequest, app_name: str | None = None) -> HttpResponse:
    """Serve ``/thywill/init/`` or ``/thywill/<app>/init/`` for a new client."""
    runtime = get_runtime()
    try:
        app = runtime.application(app_name)
    except UnknownApplicationError:
        raise RejectedError(
            ErrorCode.UNKNOWN_APPLICATION, f"No application is named {app_name!r}."
        ) from None
    transports = conf.get_transports()
    forced = request.GET.get("transport")
    if forced is not None and forced not in transports:
        raise RejectedError(
            ErrorCode.BAD_TRANSPORT,
            f"Unknown transport {forced!r}; enabled: {', '.join(transports)}.",
        )
    session_key = await _session_key(request)
    user = await request.auser()
    identity = ClientIdentity(
        client_id=new_client_id(),
        application=app.name,
        session_hash=session_hash(session_key),
        user_id=str(user.pk) if user.is_authenticated else None,
    )
    await runtime.database.record_client(identity, session_key)
    result = await runtime.events.handle_connect(app, identity)
    if result.outcome is Outcome.FAILED:
        assert result.failure is not None
        raise RejectedError(ErrorCode.REFUSED, result.failure.reason)
    # Present from now on: its disconnect event runs once this lease lapses.
    await runtime.presence.renew(identity, force=True)
    config = {
        "clientId": identity.client_id,
        "token": issue_token(identity),
        "application": app.name,
        "cursor": "",
        "transports": list(transports),
        "forcedTransport": forced,
        "csrfToken": get_token(request),
        "endpoints": {
            "send": reverse("thywill:send"),
            "sse": reverse("thywill:sse"),
            "longpoll": reverse("thywill:longpoll"),
            "websocket": reverse("thywill:websocket"),
        },
        "limits": conf.get_limits().as_client_config(),
        "app": dict(app.client_config()),
    }
    response = render(
        request,
        "thywill/bootstrap.html",
        {"app": app, "thywill_config": config},
    )
    response["Cache-Control"] = "no-store"
    return response


async def _session_key(request: HttpRequest) -> str:
    """The key of the request's session, creating the session when there is none."""
    # Setting a value loads the session, which discards a cookie naming a session
    # that no longer exists; saving then creates one if needed.
    await request.session.aset("thywill", True)
    if request.session.session_key is None:
        await request.session.asave()
    key = request.session.session_key
    assert key is not None
    return key
