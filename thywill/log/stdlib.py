"""The log component on Python's logging module."""

from __future__ import annotations

import logging

from thywill.exceptions import PushUnavailableError, RejectedError
from thywill.log.base import BaseLog


class StdlibLog(BaseLog):
    """Reports to a standard library logger.

    Args:
        logger: the logger's name.
    """

    def __init__(self, *, logger: str = "thywill") -> None:
        self.logger = logging.getLogger(logger)

    def rejected(
        self, error: RejectedError, *, path: str, client_id: str | None = None
    ) -> None:
        self.logger.warning(
            "Rejected %s: %s (%s)",
            path,
            error.code.value,
            error.message,
            extra={"thywill_code": error.code.value, "thywill_client_id": client_id},
        )

    def handler_failed(
        self, *, application: str, client_id: str, event: str, trace_id: str | None = None
    ) -> None:
        self.logger.exception(
            "Handler for %s in application %r failed trace=%s",
            event,
            application,
            trace_id,
            extra={"thywill_client_id": client_id, "thywill_trace_id": trace_id},
        )

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
        self.logger.info(
            "%s in application %r failed: %s (%s) trace=%s",
            event,
            application,
            reason,
            code,
            trace_id,
            extra={
                "thywill_client_id": client_id,
                "thywill_trace_id": trace_id,
                "thywill_code": code,
            },
        )

    def unavailable(self, error: PushUnavailableError, *, path: str) -> None:
        if error.first_in_episode:
            self.logger.error("Push backend unavailable for %s: %s", path, error)
        else:
            self.logger.debug("Push backend still unavailable for %s", path)

    def recovered(self, *, backend: str, downtime: float) -> None:
        self.logger.warning("%s is available again after %.1f s", backend, downtime)
