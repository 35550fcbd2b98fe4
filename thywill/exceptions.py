"""Every exception thywill raises, in one place.

The tree::

    ThywillError                   runtime errors
    ├── RejectedError              bad input: a 4xx with a JSON error, logged once
    ├── UnknownApplicationError    no application of that name is configured (a LookupError)
    ├── UnknownClientError         no client of that id was ever issued (a LookupError)
    ├── PushNotSharedError         a server send from a process that reaches no client
    ├── ClientGone                 the client disconnected before its request arrived
    ├── PushUnavailableError       the push backend cannot be reached (a 503)
    ├── HandlerOutputError         a handler sent something that is not JSON
    ├── FlowFailedError            fail(reason): a pipe, hook or handler stopped the flow
    │   └── RateLimitedError       a client sent faster than its limit
    ├── TransactionRolledBackError a handler's database transaction was rolled back
    └── StaleModelError            a hook script used a model after its call ended

    django.core.exceptions.ImproperlyConfigured
    └── ConfigurationError         a THYWILL_* setting is wrong (has its check id)
        └── InvalidComponentError  a component or application can't be built
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

from thywill.types import JSON


class ErrorCode(enum.StrEnum):
    """The stable error codes of the wire protocol (documentation/protocol.md)."""

    BAD_JSON = "bad_json"
    BAD_MESSAGE = "bad_message"
    BAD_CURSOR = "bad_cursor"
    BAD_TRANSPORT = "bad_transport"
    BAD_TOKEN = "bad_token"
    BAD_ORIGIN = "bad_origin"
    BAD_FRAME = "bad_frame"
    BAD_HOST = "bad_host"
    BAD_REQUEST = "bad_request"
    AUTH_TIMEOUT = "auth_timeout"
    TOKEN_EXPIRED = "token_expired"
    SESSION_MISMATCH = "session_mismatch"
    SESSION_ENDED = "session_ended"
    CSRF_FAILED = "csrf_failed"
    UNKNOWN_APPLICATION = "unknown_application"
    NOT_FOUND = "not_found"
    UPGRADE_REQUIRED = "upgrade_required"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    TOO_LARGE = "too_large"
    UNAVAILABLE = "unavailable"
    REFUSED = "refused"
    DISCONNECTED = "disconnected"
    TOO_MANY_CONNECTIONS = "too_many_connections"

    @property
    def status(self) -> int:
        """The HTTP status that answers this error."""
        return _STATUS[self]


_STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_JSON: 400,
    ErrorCode.BAD_MESSAGE: 400,
    ErrorCode.BAD_CURSOR: 400,
    ErrorCode.BAD_TRANSPORT: 400,
    ErrorCode.BAD_TOKEN: 403,
    ErrorCode.BAD_ORIGIN: 403,
    ErrorCode.BAD_FRAME: 400,
    ErrorCode.BAD_HOST: 400,
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.AUTH_TIMEOUT: 408,
    ErrorCode.TOKEN_EXPIRED: 403,
    ErrorCode.DISCONNECTED: 410,
    ErrorCode.SESSION_MISMATCH: 403,
    ErrorCode.SESSION_ENDED: 403,
    ErrorCode.CSRF_FAILED: 403,
    ErrorCode.UNKNOWN_APPLICATION: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.UPGRADE_REQUIRED: 426,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.REFUSED: 403,
    ErrorCode.TOO_MANY_CONNECTIONS: 429,
}


class ThywillError(Exception):
    """Base class of thywill's runtime errors."""


class RejectedError(ThywillError):
    """A request was refused because of what the client sent.

    ``index`` is set on the refusal of one client of a shared connection (several
    clients on one long-poll, SSE stream or WebSocket): its position in the
    connection's list of tokens, which the error answer names.
    """

    index: int | None = None

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def at(self, index: int) -> RejectedError:
        """The same refusal, of the client at ``index`` of a shared connection."""
        error = RejectedError(self.code, self.message)
        error.index = index
        return error

    @classmethod
    def unavailable(cls) -> RejectedError:
        """The error every transport answers while the push backend is unreachable."""
        return cls(
            ErrorCode.UNAVAILABLE, "The message service is unavailable; try again shortly."
        )

    @property
    def status(self) -> int:
        """The HTTP status of the error (WebSocket close codes are 4000 + it)."""
        return self.code.status

    def as_json(self) -> dict[str, str | int]:
        """The ``{"code", "message"}`` object every error answer and frame carries
        (and ``index`` when the refusal is of one client of a shared connection)."""
        if self.index is None:
            return {"code": self.code.value, "message": self.message}
        return {"code": self.code.value, "message": self.message, "index": self.index}

    def __repr__(self) -> str:
        return f"RejectedError({self.code.value!r}, {self.message!r})"


class UnknownApplicationError(ThywillError, LookupError):
    """No application of that name is configured in THYWILL_APPLICATIONS."""


class UnknownClientError(ThywillError, LookupError):
    """No client of that id was issued (or its record was purged)."""


class PushNotSharedError(ThywillError):
    """A server send from a process whose push backend reaches no client.

    The in-memory backend keeps messages in the memory of one process, so a send from
    a process that serves no clients (a worker, ``manage.py shell``) would reach nobody.
    """


class ClientGone(ThywillError):
    """The client closed the connection before its request body arrived."""


class PushUnavailableError(ThywillError):
    """The push backend could not be reached; the request may be retried later.

    Args:
        message: what failed, for the log.
        first_in_episode: true for the first failure of an outage, the one that is
            logged; the requests refused while the outage lasts are not logged again.
    """

    def __init__(self, message: str, *, first_in_episode: bool = True) -> None:
        super().__init__(message)
        self.first_in_episode = first_in_episode


class SessionRevokedError(ThywillError):
    """A push backend's ``client_lock(..., session=...)`` found the session revoked (a
    logout): the lock was not taken."""


class HandlerOutputError(ThywillError):
    """An application handler sent data that cannot be encoded as JSON."""


class FlowFailedError(ThywillError):
    """An event's flow was stopped on purpose, with a reason for the client.

    Raised by ``fail()``; the client is told ``reason`` (a send's Promise rejects with it)
    and nothing the flow sent is released.

    Attributes:
        reason: what the client is told.
        code: a short machine-readable code (``failed`` unless the caller chose one).
        details: extra JSON fields for the client (``retryAfter`` for rate limits).
    """

    def __init__(
        self,
        reason: str,
        *,
        code: str = "failed",
        details: Mapping[str, JSON] | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.details = dict(details or {})


class RateLimitedError(FlowFailedError):
    """A client sent more messages than its limit allows; retry after ``retry_after`` s."""

    def __init__(self, reason: str, *, retry_after: float) -> None:
        super().__init__(
            reason, code="rate_limited", details={"retryAfter": round(retry_after, 3)}
        )
        self.retry_after = retry_after


class TransactionRolledBackError(ThywillError):
    """A handler's database transaction was rolled back, so nothing it sent is released."""


class StaleModelError(ThywillError):
    """A hook script touched a model after the call that received it had returned."""


class ConfigurationError(ImproperlyConfigured):
    """A THYWILL_* setting is wrong; ``check_id`` is the system check that reports it."""

    def __init__(self, message: str, *, check_id: str) -> None:
        super().__init__(message)
        self.message = message
        self.check_id = check_id


class InvalidComponentError(ConfigurationError):
    """A component or application named in settings cannot be imported or built."""
