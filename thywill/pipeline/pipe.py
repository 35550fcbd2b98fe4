"""The Pipe: one stage of the pipeline every event flows through (Emmett's model).

A pipe sees an event in five moments: ``open`` before it flows, ``pipe`` as it flows
(calling ``next_pipe`` passes it on; not calling it stops the flow there),
``on_pipe_success`` / ``on_pipe_failure`` as the flow comes back through the pipe, and
``close`` once it is over, whatever happened. ``on_receive`` and ``on_send`` transform the
data a message event brings in and the data the flow sends out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from thywill.types import JSON

if TYPE_CHECKING:
    from thywill.pipeline.event import Event

EVENT_KINDS = ("connect", "message", "disconnect", "join", "leave", "group_message")
"""Every kind of event that flows through a pipeline."""

VARIANT_BASES = ("open", "close", "pipe")
"""The methods that can be specialised per event kind, as ``<method>_<kind>``."""

HOOK_METHODS = frozenset(
    {"open", "close", "pipe", "on_pipe_success", "on_pipe_failure", "on_receive", "on_send"}
    | {f"{base}_{kind}" for base in VARIANT_BASES for kind in EVENT_KINDS}
)

NextPipe = Callable[..., Awaitable[Any]]


class Pipe:
    """Base class of pipes; override only the methods you need.

    Which methods a subclass defines is recorded when the class is created, so a flow
    calls only those. ``open``, ``close`` and ``pipe`` have variants per event kind
    (``open_message``, ``pipe_connect``, ``close_group_message``, ...; kinds are in
    ``EVENT_KINDS``): a pipe defines either the general method or its variants, not both
    (a ``TypeError`` when the class is created), like Emmett's ``pipe_request`` and
    ``pipe_ws``. A pipe that defines only variants takes part in the ``pipe`` stage of
    those kinds only.

    One pipe instance serves every event of every flow it is in, concurrently: keep
    per-event values on ``event.state``, not on ``self``.
    """

    declared: ClassVar[frozenset[str]] = frozenset()
    """The hook methods this class (or a base below ``Pipe``) defines."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared: set[str] = set()
        for klass in cls.__mro__:
            if klass is Pipe:
                break
            declared |= HOOK_METHODS & set(vars(klass))
        for base in VARIANT_BASES:
            variants = sorted(name for name in declared if name.startswith(base + "_"))
            if base in declared and variants:
                raise TypeError(
                    f"{cls.__qualname__} defines both {base}() and {', '.join(variants)}"
                    f"(): define {base}() for every event kind, or only the variants."
                )
        cls.declared = frozenset(declared)

    def method(self, base: str, kind: str) -> Callable[..., Awaitable[Any]] | None:
        """The method that plays ``base`` (open, close, pipe) for ``kind``, if defined."""
        for name in (f"{base}_{kind}", base):
            if name in self.declared:
                method: Callable[..., Awaitable[Any]] = getattr(self, name)
                return method
        return None

    async def open(self, event: Event) -> None:
        """Prepare for an event, before it flows (pipes open in pipeline order)."""

    async def close(self, event: Event) -> None:
        """Clean up after an event; always runs once ``open`` did (reverse order)."""

    async def pipe(self, next_pipe: NextPipe, event: Event, **kwargs: Any) -> Any:
        """Pass the event on with ``await next_pipe(**kwargs)``, or stop it by not doing so.

        Keyword arguments given to ``next_pipe`` reach the next pipe and, from the last
        one, the message handler (as Emmett's pipes inject route arguments).

        Returns:
            What ``next_pipe`` returned, or the pipe's own result when it stopped the
            flow.
        """
        return await next_pipe(**kwargs)

    async def on_pipe_success(self, event: Event) -> None:
        """Called when the flow came back through this pipe without an exception."""

    async def on_pipe_failure(self, event: Event, exc: Exception) -> None:
        """Called when the flow raised ``exc`` after this pipe; the exception goes on."""

    def on_receive(self, data: JSON) -> JSON:
        """Transform a message's data as it arrives, before its flow opens (pipeline
        order); every pipe, hook and the handler then see the result."""
        return data

    def on_send(self, data: JSON) -> JSON:
        """Transform each piece of data the flow sends, when it is sent (reverse
        pipeline order)."""
        return data

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__}>"
