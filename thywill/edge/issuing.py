"""Issuing a client: what the bootstrap page, the session endpoint and the template tag
all do before a browser can connect.

A client is one tab's identity in one application. Issuing it binds it to the request's
session (created when there is none) and user; activating it records it in the database,
runs the application's connect event and starts its presence lease (``activation``):
with THYWILL_RESUME on, on the client's first request, otherwise at once. The browser
then gets the client's configuration (documentation/protocol.md, "The bootstrap page").
"""

from __future__ import annotations

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.urls import reverse

from thywill import conf
from thywill.application.spec import ApplicationSpec
from thywill.edge.activation import activate_client
from thywill.exceptions import ErrorCode, RejectedError, UnknownApplicationError
from thywill.identity.tokens import (
    ClientIdentity,
    issue_token,
    new_client_id,
    session_hash,
)
from thywill.types import JSON
from thywill.wiring.runtime import get_runtime


def find_application(name: str | None) -> ApplicationSpec:
    """The application called ``name``, or the default one when ``name`` is None.

    Raises:
        RejectedError: ``unknown_application`` (a 404).
    """
    try:
        return get_runtime().application(name)
    except UnknownApplicationError:
        raise RejectedError(
            ErrorCode.UNKNOWN_APPLICATION, f"No application is named {name!r}."
        ) from None


async def issue_client(
    request: HttpRequest, app: ApplicationSpec, *, forced_transport: str | None = None
) -> dict[str, JSON]:
    """Issue a new client of ``app`` to the request's session (and user) and return the
    configuration its browser client connects with.

    The configuration carries the page's CSRF token (``get_token``), so the response must
    set the CSRF cookie: Django's ``CsrfViewMiddleware`` does, or ``ensure_csrf_cookie``.

    Args:
        request: the request the client is issued for; it needs the session and the
            user (``SessionMiddleware``, ``AuthenticationMiddleware``).
        app: the client's application.
        forced_transport: the one transport the client must use, or None to let it
            choose among the enabled ones.

    Returns:
        The client's configuration: ``clientId``, ``token``, ``application``,
        ``cursor``, ``resume``, ``share``, ``transports``, ``forcedTransport``,
        ``csrfToken``, ``endpoints``, ``limits`` and ``app`` (the application's
        ``client_config()``).

    Raises:
        RejectedError: ``bad_transport`` when ``forced_transport`` is not enabled;
            ``refused`` when the application's connect event failed (with
            THYWILL_RESUME off: with it on, the event runs on the client's first
            request, which it refuses).
        PushUnavailableError: the push backend cannot be reached.
    """
    transports = conf.get_transports()
    if forced_transport is not None and forced_transport not in transports:
        raise RejectedError(
            ErrorCode.BAD_TRANSPORT,
            f"Unknown transport {forced_transport!r}; enabled: {', '.join(transports)}.",
        )
    resume = conf.get_resume()
    session_key = await _session_key(request)
    user = await request.auser()
    identity = ClientIdentity(
        client_id=new_client_id(),
        application=app.name,
        session_hash=session_hash(session_key),
        user_id=str(user.pk) if user.is_authenticated else None,
        pending=resume,
    )
    if not resume:
        await activate_client(identity, session_key)
    return {
        "clientId": identity.client_id,
        "token": issue_token(identity),
        "application": app.name,
        "cursor": "",
        "resume": resume,
        "share": conf.get_share_connections(),
        "transports": list(transports),
        "forcedTransport": forced_transport,
        "csrfToken": get_token(request),
        "endpoints": {
            "send": reverse("thywill:send"),
            "sse": reverse("thywill:sse"),
            "longpoll": reverse("thywill:longpoll"),
            "websocket": reverse("thywill:websocket"),
            "bye": reverse("thywill:bye"),
        },
        "limits": conf.get_limits().as_client_config(),
        "app": dict(app.client_config()),
    }


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
