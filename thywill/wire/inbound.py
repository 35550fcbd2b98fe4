"""Parsing and validating what clients send: send bodies and frames
(documentation/protocol.md)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Sequence
from typing import Any

from thywill.exceptions import ErrorCode, RejectedError
from thywill.types import JSON

MAX_SEQ = 2**53 - 1  # the largest integer a browser can count to exactly

# Where a lone surrogate can come from: JSON's escapes \uD800 to \uDFFF (a body is UTF-8, a
# frame is text). Only a body that has one is checked, the costly way.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


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
    raw = body if isinstance(body, bytes) else body.encode()
    if len(raw) > max_bytes:
        raise RejectedError(
            ErrorCode.TOO_LARGE,
            f"The {what} is {len(raw)} bytes; the limit is {max_bytes}.",
        )
    try:
        text = body if isinstance(body, str) else raw.decode()
    except UnicodeDecodeError as exc:
        # Strictly: json.loads() would take UTF-16 and 32, and bytes of a surrogate
        # ("surrogatepass"), which decode to text that can never be encoded again.
        raise RejectedError(
            ErrorCode.BAD_JSON,
            f"The {what} is not UTF-8: {exc.reason} at byte {exc.start}.",
        ) from exc
    try:
        parsed = _DECODER.decode(text)
    except ValueError as exc:
        raise RejectedError(ErrorCode.BAD_JSON, f"The {what} is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise RejectedError(
            ErrorCode.BAD_JSON, f"The {what} is nested too deeply."
        ) from exc
    if _SURROGATE_ESCAPE.search(raw):
        _require_encodable(parsed, what)
    return parsed


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


def parse_bye_body(body: bytes, *, max_bytes: int) -> str:
    """Validate a ``POST /thywill/bye/`` body, ``{"token": T}``; return the token.

    Raises:
        RejectedError: ``too_large``, ``bad_json`` or ``bad_message``.
    """
    parsed = parse_json(body, max_bytes=max_bytes)
    if not isinstance(parsed, dict) or not isinstance(parsed.get("token"), str):
        raise _bad("The body must be a JSON object with a string 'token'.")
    token: str = parsed["token"]
    return token


@dataclasses.dataclass(frozen=True, slots=True)
class AuthFrame:
    """A parsed WebSocket ``auth`` frame."""

    token: str | list[object]
    """The client's token, or a shared socket's list of tokens (each checked later)."""
    sent_in_batch: bool = False
    """The client takes a ``send`` frame's answer inside a ``batch`` frame (``sent``)."""


def parse_auth_frame(text: str | None, *, max_bytes: int) -> AuthFrame:
    """Validate the first frame of a WebSocket, ``{"type": "auth", "token": T}``, with
    an optional ``"sentInBatch": true``. A shared socket's auth frame names several
    clients, ``{"type": "auth", "tokens": [T1, T2, ...]}``: the list is returned as the
    token (each token is checked as the client's).

    The refusal's message says what the frame was, never what it held: it may hold a
    token, and refusals are logged.

    Raises:
        RejectedError: ``too_large``, or ``bad_request`` for any other frame.
    """
    if text is None:
        raise _not_auth("a binary frame")
    try:
        parsed = parse_json(text, max_bytes=max_bytes, what="frame")
    except RejectedError as error:
        if error.code is ErrorCode.TOO_LARGE:
            raise
        raise _not_auth("not JSON") from error
    if not isinstance(parsed, dict):
        raise _not_auth("not a JSON object")
    if parsed.get("type") != "auth":
        raise _not_auth("of another type")
    sent_in_batch = parsed.get("sentInBatch", False)
    if not isinstance(sent_in_batch, bool):
        raise _not_auth("with a 'sentInBatch' that is not true or false")
    if "tokens" in parsed:
        tokens = parsed["tokens"]
        if "token" in parsed:
            raise _not_auth("with both 'token' and 'tokens'")
        if not isinstance(tokens, list):
            raise _not_auth("with a 'tokens' that is not a list")
        return AuthFrame(tokens, sent_in_batch)
    token = parsed.get("token")
    if not isinstance(token, str):
        raise _not_auth("without a string 'token'")
    return AuthFrame(token, sent_in_batch)


def _not_auth(what: str) -> RejectedError:
    return RejectedError(
        ErrorCode.BAD_REQUEST,
        f'The first frame must be {{"type": "auth", "token": ...}}; this one was {what}.',
    )


def _require_encodable(parsed: Any, what: str) -> None:
    """Refuse text JSON can write but UTF-8 cannot: a lone UTF-16 surrogate (``"\\ud800"``)
    parses, but no transport could ever deliver it, to anyone."""
    try:
        json.dumps(parsed, ensure_ascii=False).encode()
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end]
        raise RejectedError(
            ErrorCode.BAD_JSON,
            f"The {what} holds text that cannot be encoded: "
            f"{bad.encode('unicode_escape').decode()} is half of a UTF-16 surrogate pair.",
        ) from exc


def _finite(text: str) -> float:
    # Python reads 1e99999 as infinity, which JSON cannot carry back out.
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:50]} is out of range")
    return number


def _reject_constant(name: str) -> None:
    # Python's parser accepts NaN and Infinity, which JSON does not have.
    raise ValueError(f"{name} is not a JSON value")


def _bad(message: str) -> RejectedError:
    return RejectedError(ErrorCode.BAD_MESSAGE, message)


# Built once: json.loads() with these options builds a new decoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite)
