"""The event that flows through a pipeline, and ``fail()``."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from thywill.exceptions import FlowFailedError
from thywill.types import JSON

if TYPE_CHECKING:
    from thywill.handlers.context import Context


def new_trace_id() -> str:
    """A random id for one event, carried through logs (16 hex digits)."""
    return secrets.token_hex(8)


@dataclasses.dataclass(eq=False, slots=True)
class Event:
    """One event on its way through a pipeline.

    Attributes:
        kind: one of ``EVENT_KINDS``.
        ctx: the handler context of the client the event is about; pipes may send
            through it like handlers do.
        data: a message's (or group message's) data; pipes and ``pre_`` hooks may
            replace it.
        message_type: a message's ``type``, when it has a valid one.
        group: the group of a join, leave or group message.
        member: the client that joins or leaves.
        seq: a message's sequence number.
        reply: what a message's handler returned, sent back as its result's ``value``
            (``None``: no value); pipes may read or replace it after ``next_pipe``.
        trace_id: a random id for this event, for logs.
        timings: milliseconds each pipe's ``pipe`` stage took, inner pipes included.
        state: a free dict for pipes to keep per-event values in.
    """

    kind: str
    ctx: Context
    data: JSON = None
    message_type: str | None = None
    group: str | None = None
    member: str | None = None
    seq: int | None = None
    reply: JSON = None
    trace_id: str = dataclasses.field(default_factory=new_trace_id)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    state: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def client_id(self) -> str:
        """The client the event comes from."""
        return self.ctx.client_id

    @property
    def application(self) -> str:
        """The name of the application the event belongs to."""
        return self.ctx.application


def fail(reason: str, *, code: str = "failed", **details: JSON) -> NoReturn:
    """Stop the current flow; the client is told ``reason`` and nothing is sent.

    Usable from a pipe, a hook script or a handler, at any stage. A send's Promise
    rejects with an error whose ``code`` and ``message`` are these.

    Args:
        reason: what the client is told, in words.
        code: a short machine-readable code (default ``failed``).
        details: extra JSON fields added to the client's result.

    Raises:
        FlowFailedError: always.
    """
    if not isinstance(reason, str) or not reason:
        raise TypeError(f"fail() needs a non-empty reason string, not {reason!r}")
    raise FlowFailedError(reason, code=code, details=_details(details))


def _details(details: Mapping[str, JSON]) -> dict[str, JSON]:
    reserved = {"seq", "status", "code", "reason"} & set(details)
    if reserved:
        raise TypeError(f"fail() details may not use the result fields {sorted(reserved)}")
    return dict(details)
