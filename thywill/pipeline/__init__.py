"""The pipeline: pipes around every event, composed once (Emmett's model).

Public API::

    Pipe        base class of pipes
    NextPipe    the type of ``pipe()``'s ``next_pipe``
    Event       what flows through a pipeline
    Flow        a pipeline built around one core
    fail        stop the flow with a reason for the client
    use_pipes   decorator: pipes for one handler
    EVENT_KINDS the kinds of event
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from thywill.pipeline.event import Event, fail
from thywill.pipeline.flow import Flow
from thywill.pipeline.pipe import EVENT_KINDS, NextPipe, Pipe

__all__ = [
    "EVENT_KINDS",
    "PIPES_ATTRIBUTE",
    "Event",
    "Flow",
    "NextPipe",
    "Pipe",
    "fail",
    "use_pipes",
]

PIPES_ATTRIBUTE = "thywill_pipes"
"""Where ``use_pipes`` records a handler's own pipes."""

F = TypeVar("F", bound=Callable[..., object])


def use_pipes(*pipes: Pipe) -> Callable[[F], F]:
    """Give one handler its own pipes, inside the global and application ones.

    Stacked decorators compose top to bottom: the topmost one's pipes are outermost::

        class Chat(BaseApplication):
            @use_pipes(SchemaPipe({"type": "object", "required": ["text"]}))
            def on_chat_say(self, ctx, data): ...
    """
    for pipe in pipes:
        if not isinstance(pipe, Pipe):
            raise TypeError(f"use_pipes() takes Pipe instances, not {pipe!r}")

    def decorate(handler: F) -> F:
        setattr(handler, PIPES_ATTRIBUTE, (*pipes, *getattr(handler, PIPES_ATTRIBUTE, ())))
        return handler

    return decorate
