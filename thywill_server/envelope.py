"""Encoding and validating what crosses the wire (documentation/protocol.md)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from thywill_server.exceptions import ErrorCode, RejectedError
from thywill_server.push.base import StoredMessage
from thywill_server.types import JSON

MAX_SEQ = 2**53 - 1  # the largest integer a browser can count to exactly


@dataclasses.dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message a client sent, with its sequence number."""

    seq: int
    data: JSON


@dataclasses.dataclass(frozen=True, slots=True)
class SendRequest:
    """A parsed ``POST /thywill/send/`` body."""

    token: str
    messages: Sequence[InboundMessage]


def parse_send_body(body: bytes, *, max_bytes: int, max_batch: int) -> SendRequest:
    """Validate a send body; every problem is a RejectedError naming the field.

    Raises:
        RejectedError: ``too_large``, ``bad_json`` or ``bad_message``.
    """
    if len(body) > max_bytes:
        raise RejectedError(
            ErrorCode.TOO_LARGE,
            f"The body is {len(body)} bytes; the limit is {max_bytes}.",
        )
    try:
        parsed: Any = json.loads(body, parse_constant=_reject_constant)
    except ValueError as exc:
        raise RejectedError(ErrorCode.BAD_JSON, f"The body is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise RejectedError(ErrorCode.BAD_JSON, "The body is nested too deeply.") from exc
    if not isinstance(parsed, dict):
        raise _bad("The body must be a JSON object.")
    token = parsed.get("token")
    if not isinstance(token, str):
        raise _bad("'token' must be a string.")
    raw_messages = parsed.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise _bad("'messages' must be a non-empty list.")
    if len(raw_messages) > max_batch:
        raise _bad(f"'messages' has {len(raw_messages)} items; the limit is {max_batch}.")
    messages = []
    previous = 0
    for index, raw in enumerate(raw_messages):
        where = f"messages[{index}]"
        if not isinstance(raw, dict) or "data" not in raw:
            raise _bad(f"{where} must be an object with 'seq' and 'data'.")
        seq = raw.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 < seq <= MAX_SEQ:
            raise _bad(f"{where}.seq must be a positive integer.")
        if seq <= previous:
            raise _bad(f"{where}.seq must be above the one before it.")
        previous = seq
        messages.append(InboundMessage(seq, raw["data"]))
    return SendRequest(token, messages)


def _reject_constant(name: str) -> None:
    # Python's parser accepts NaN and Infinity, which JSON does not have.
    raise ValueError(f"{name} is not a JSON value")


def _bad(message: str) -> RejectedError:
    return RejectedError(ErrorCode.BAD_MESSAGE, message)


def encode_delivery(message: StoredMessage) -> str:
    """A delivered message as JSON text, around the stored payload (never re-encoded)."""
    return (
        f'{{"channel":{json.dumps(message.channel)},'
        f'"id":{json.dumps(message.position)},"data":{message.payload}}}'
    )


def encode_reset(channels: Sequence[str]) -> str:
    """The body of a reset: which channels lost history."""
    return json.dumps(
        {"channels": list(channels), "reason": "history_lost"}, separators=(",", ":")
    )
