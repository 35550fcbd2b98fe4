"""Ended browser sessions: a logout revokes the tokens issued to its session.

A token names the browser session it was issued to by a keyed hash of the session key,
and is accepted with that session's cookie. When Django ends the session (a logout), the
session hash is recorded as revoked in the push backend for TOKEN_MAX_AGE (older tokens are
refused anyway), so every process refuses the session's clients from then on: at the start
of each request, and with the lease renewals of streams already open. The check is one read
of the push backend and no database query; while the backend cannot be reached, it raises
``PushUnavailableError`` and the request is refused (503), never served unchecked.
"""

from __future__ import annotations

from thywill.exceptions import ErrorCode, RejectedError
from thywill.identity.tokens import ClientIdentity, session_hash
from thywill.push.base import BasePushBackend

SESSION_ENDED_REASON = "The session this client belonged to has ended; load the page again."


def session_ended() -> RejectedError:
    """The error of a client whose browser session ended (logged out)."""
    return RejectedError(ErrorCode.SESSION_ENDED, SESSION_ENDED_REASON)


async def check_session(push: BasePushBackend, identity: ClientIdentity) -> None:
    """Refuse a client whose browser session ended.

    Raises:
        RejectedError: ``session_ended``.
        PushUnavailableError: the push backend cannot be reached.
    """
    if await push.session_revoked(identity.session_hash):
        raise session_ended()


async def end_session(push: BasePushBackend, session_key: str, *, ttl: float) -> None:
    """Revoke every token issued to the session ``session_key``, for ``ttl`` seconds.

    Raises:
        PushUnavailableError: the push backend cannot be reached.
    """
    await push.revoke_session(session_hash(session_key), ttl)
