"""The log component contract."""

from __future__ import annotations

from django.core.checks import CheckMessage

from thywill.exceptions import PushUnavailableError, RejectedError


class BaseLog:
    """Base class of log components: the one place thywill reports what went wrong.

    Every rejected request is reported here exactly once (the views mark their answers
    as logged so that Django does not log them a second time).
    """

    def rejected(
        self, error: RejectedError, *, path: str, client_id: str | None = None
    ) -> None:
        """Report a request refused for bad input.

        Args:
            error: what was wrong (code and message, as sent to the client).
            path: the request path.
            client_id: the client, when the token was already verified.
        """
        raise NotImplementedError("subclasses of BaseLog must provide rejected()")

    def handler_failed(
        self, *, application: str, client_id: str, event: str, trace_id: str | None = None
    ) -> None:
        """Report an exception raised in an event's flow (handler, pipe or hook).

        Called inside the ``except`` block, so the traceback is available.

        Args:
            application: the application's name.
            client_id: the client the event came from.
            event: the event's kind.
            trace_id: the event's trace id.
        """
        raise NotImplementedError("subclasses of BaseLog must provide handler_failed()")

    def flow_failed(
        self,
        *,
        application: str,
        client_id: str,
        event: str,
        reason: str,
        code: str,
        trace_id: str,
    ) -> None:
        """Report an event stopped by ``fail()``: a rejection, told to the client."""
        raise NotImplementedError("subclasses of BaseLog must provide flow_failed()")

    def unavailable(self, error: PushUnavailableError, *, path: str) -> None:
        """Report that the push backend could not be reached for a request.

        Called for every request an outage refuses; ``error.first_in_episode`` tells the
        first of them, so that an outage is logged once, not once per request.
        """
        raise NotImplementedError("subclasses of BaseLog must provide unavailable()")

    def recovered(self, *, backend: str, downtime: float) -> None:
        """Report that the push backend can be reached again after ``downtime`` seconds."""
        raise NotImplementedError("subclasses of BaseLog must provide recovered()")

    def check(self) -> list[CheckMessage]:
        """Return system-check messages about this component's configuration."""
        return []
