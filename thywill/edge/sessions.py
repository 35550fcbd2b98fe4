"""Ended browser sessions at the edge: who may still use a token, and revoking at logout.

A logout ends the Django session; ``revoke_on_logout`` (connected to Django's
``user_logged_out`` signal by ``ThywillConfig.ready()``) records the session's hash as
revoked in the push backend, so every process refuses the tokens issued to it
(``session_ended``) and ends their open streams (``thywill.feed.sessions``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from thywill import conf
from thywill.edge.activation import activate_pending
from thywill.exceptions import ErrorCode, PushUnavailableError, RejectedError
from thywill.feed.sessions import check_session, end_session
from thywill.identity.tokens import ClientIdentity, identify, signed_identity
from thywill.wiring.runtime import get_runtime


async def authenticate(token: object, cookies: Mapping[str, str]) -> ClientIdentity:
    """The identity a token proves with the session cookie in ``cookies``, as
    ``identify()``; a token whose session ended is ``session_ended`` whatever the cookie.

    The browser that logged out no longer sends the old session's cookie: its tabs are
    told that their session ended rather than that their token belongs to another one.
    The caller still checks the session of the identity returned (``check_session``).
    A pending client is activated by its first request (``activate_pending``).

    Raises:
        RejectedError: as ``identify()``, ``session_ended``, or ``refused`` (a pending
            client's connect event failed).
        PushUnavailableError: the push backend cannot be reached (only to tell a
            mismatched cookie from an ended session).
    """
    try:
        identity = identify(token, cookies)
    except RejectedError as error:
        if error.code is ErrorCode.SESSION_MISMATCH:
            limits = conf.get_limits()
            claimed = signed_identity(token, max_age=limits.token_max_age)
            await check_session(get_runtime().push, claimed)
        raise
    if identity.pending:
        # identify() found the cookie names the identity's session.
        await activate_pending(identity, cookies[settings.SESSION_COOKIE_NAME])
    return identity


async def revoke_on_logout(
    sender: object, *, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Revoke every token of the session being logged out (``user_logged_out``).

    Django sends the signal before it flushes the session, so the session key is still
    the old one. The record lasts TOKEN_MAX_AGE: older tokens are refused anyway.

    Raises:
        PushUnavailableError: the push backend cannot be reached. It propagates, so the
            logout fails and the session stays (the user can try again) rather than end
            with its tokens still accepted.
    """
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    if not key:
        return  # no session: no token was issued to it
    runtime = get_runtime()
    try:
        await end_session(runtime.push, key, ttl=conf.get_limits().token_max_age)
    except PushUnavailableError as exc:
        runtime.log.unavailable(exc, path=request.path if request is not None else "")
        raise
