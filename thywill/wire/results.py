"""What became of each message a client sent, as its send's answer reports it."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence

from thywill.exceptions import FlowFailedError
from thywill.types import JSON
from thywill.wire.inbound import InboundMessage

GENERIC_ERROR = "The application failed to handle this message."


class Outcome(enum.StrEnum):
    """What became of one event, as reported to the client."""

    OK = "ok"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    ERROR = "error"
    FAILED = "failed"


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    """One event's outcome, with the failure when a flow called ``fail()``, the value its
    handler returned (after the ``on_send`` transforms), if any, for a message sent out
    of order the ``seq`` the server expected instead, and for an ``error`` or ``failed``
    event the trace id its log line carries, so that a user's report finds that line."""

    outcome: Outcome
    failure: FlowFailedError | None = None
    value: JSON = None
    expected: int | None = None
    trace_id: str | None = None

    def as_json(self, seq: int) -> dict[str, JSON]:
        """The result entry of a send answer (documentation/protocol.md)."""
        result: dict[str, JSON] = {"seq": seq, "status": self.outcome.value}
        if self.value is not None:
            result["value"] = self.value
        if self.expected is not None:
            result["expected"] = self.expected
        if self.outcome is Outcome.ERROR:
            result["reason"] = GENERIC_ERROR
        elif self.failure is not None:
            result.update(self.failure.details)
            result["code"] = self.failure.code
            result["reason"] = self.failure.reason
        if self.trace_id is not None:
            result["traceId"] = self.trace_id
        return result


def send_results(
    messages: Sequence[InboundMessage], results: Sequence[Result]
) -> list[dict[str, JSON]]:
    """The answer's result entry of each message of a send (HTTP and WebSocket alike)."""
    pairs = zip(messages, results, strict=True)
    return [result.as_json(message.seq) for message, result in pairs]
