"""Parsing and validating what clients send: send bodies and frames
(documentation/protocol.md)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from thywill.exceptions import ErrorCode, RejectedError
from thywill.types import JSON

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


def parse_json(body: bytes | str, *, max_bytes: int, what: str = "body") -> Any:
    """Parse one strict-JSON body or frame of at most ``max_bytes`` UTF-8 bytes.

    ``what`` names it in the error messages ("body", "frame").

    Raises:
        RejectedError: ``too_large`` or ``bad_json``.
    """
    size = len(body) if isinstance(body, bytes) else len(body.encode())
    if size > max_bytes:
        raise RejectedError(
            ErrorCode.TOO_LARGE, f"The {what} is {size} bytes; the limit is {max_bytes}."
        )
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except ValueError as exc:
        raise RejectedError(ErrorCode.BAD_JSON, f"The {what} is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise RejectedError(
            ErrorCode.BAD_JSON, f"The {what} is nested too deeply."
        ) from exc


def parse_messages(raw_messages: object, *, max_batch: int) -> list[InboundMessage]:
    """Validate the ``messages`` list of a send (HTTP body or WebSocket frame).

    Raises:
        RejectedError: ``bad_message``, naming the field.
    """
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
    return messages


def parse_send_body(body: bytes, *, max_bytes: int, max_batch: int) -> SendRequest:
    """Validate a ``POST /thywill/send/`` body; every problem is a RejectedError.

    Raises:
        RejectedError: ``too_large``, ``bad_json`` or ``bad_message``.
    """
    parsed = parse_json(body, max_bytes=max_bytes)
    if not isinstance(parsed, dict):
        raise _bad("The body must be a JSON object.")
    token = parsed.get("token")
    if not isinstance(token, str):
        raise _bad("'token' must be a string.")
    messages = parse_messages(parsed.get("messages"), max_batch=max_batch)
    return SendRequest(token, messages)


def _reject_constant(name: str) -> None:
    # Python's parser accepts NaN and Infinity, which JSON does not have.
    raise ValueError(f"{name} is not a JSON value")


def _bad(message: str) -> RejectedError:
    return RejectedError(ErrorCode.BAD_MESSAGE, message)
