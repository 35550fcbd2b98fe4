"""A flow: a pipeline of pipes built once around one core, run once per event.

The order, for pipes ``[P1, P2, P3]`` around a core::

    P1.open  P2.open  P3.open                          (pipeline order, one at a time)
    P1.pipe -> P2.pipe -> P3.pipe -> core              (each calls next_pipe)
    P3.on_pipe_success  P2.on_pipe_success  P1.on_pipe_success
                                            (or on_pipe_failure, inner to outer, re-raised)
    P3.close  P2.close  P1.close                       (always, reverse order)

A pipe that returns without calling ``next_pipe`` stops the flow there: the pipes inside
it and the core do not run, and the pipes outside it see a success. Only pipes whose
``open`` completed are closed; a ``close`` that raises does not keep the others from
running, and fails the event only if nothing else had.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from thywill.pipeline.event import Event
from thywill.pipeline.pipe import EVENT_KINDS, Pipe
from thywill.types import JSON

logger = logging.getLogger(__name__)

Core = Callable[..., Awaitable[Any]]
"""The innermost stage: ``await core(event, **kwargs)``."""

Step = Callable[..., Awaitable[Any]]


class Flow:
    """The pipes around one core for one event kind, composed once.

    Args:
        pipes: the pipes, outermost first.
        kind: the event kind this flow runs (picks each pipe's variant methods).
        core: what the event does once every pipe passed it on.
    """

    __slots__ = (
        "_closes",
        "_entry",
        "_has_closes",
        "_opens",
        "_receives",
        "_sends",
        "kind",
        "pipes",
    )

    def __init__(self, pipes: Sequence[Pipe], kind: str, core: Core) -> None:
        if kind not in EVENT_KINDS:
            raise ValueError(
                f"unknown event kind {kind!r}; kinds: {', '.join(EVENT_KINDS)}"
            )
        for pipe in pipes:
            if not isinstance(pipe, Pipe):
                raise TypeError(f"{pipe!r} is not a thywill.pipeline.Pipe")
        self.kind = kind
        self.pipes = tuple(pipes)
        self._opens = [p.method("open", kind) for p in self.pipes]
        self._closes = [p.method("close", kind) for p in self.pipes]
        self._has_closes = any(close is not None for close in self._closes)
        self._receives = [p.on_receive for p in self.pipes if "on_receive" in p.declared]
        self._sends = [p.on_send for p in reversed(self.pipes) if "on_send" in p.declared]
        entry: Step = core
        for pipe, name in reversed(
            list(zip(self.pipes, _timing_names(self.pipes), strict=True))
        ):
            entry = _wrap(pipe, kind, entry, name)
        self._entry = entry

    async def __call__(self, event: Event, **kwargs: Any) -> Any:
        """Run one event through the pipes and the core; return what the flow returned.

        Raises:
            Exception: whatever the flow raised, after every opened pipe was closed.
        """
        if not self._has_closes:
            # Nothing to release: no shield (a Task, its coroutine and a context copy per
            # event, which made garbage collection the round trip's p99).
            for open_ in self._opens:
                if open_ is not None:
                    await open_(event)
            return await self._entry(event, **kwargs)
        opened = 0
        # Closes are shielded: a client that goes away cancels the request, and pipes
        # must still release what they opened.
        try:
            for open_ in self._opens:
                if open_ is not None:
                    await open_(event)
                opened += 1
            result = await self._entry(event, **kwargs)
        except BaseException:
            await asyncio.shield(self._close(event, opened, raise_failure=False))
            raise
        await asyncio.shield(self._close(event, opened, raise_failure=True))
        return result

    async def _close(self, event: Event, opened: int, *, raise_failure: bool) -> None:
        failure: Exception | None = None
        for close in reversed(self._closes[:opened]):
            if close is None:
                continue
            try:
                await close(event)
            except Exception as exc:  # every opened pipe gets its close
                logger.exception(
                    "close() of a pipe failed", extra={"thywill_trace_id": event.trace_id}
                )
                failure = failure or exc
        if failure is not None and raise_failure:
            raise failure

    def receive(self, data: JSON) -> JSON:
        """Apply every pipe's ``on_receive`` to inbound data, outermost first."""
        for transform in self._receives:
            data = transform(data)
        return data

    def send(self, data: JSON) -> JSON:
        """Apply every pipe's ``on_send`` to outbound data, innermost first."""
        for transform in self._sends:
            data = transform(data)
        return data


def _timing_names(pipes: Sequence[Pipe]) -> list[str]:
    """Each pipe's key in ``event.timings``: its class name, numbered when repeated."""
    seen: dict[str, int] = {}
    names = []
    for pipe in pipes:
        name = type(pipe).__name__
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return names


def _wrap(pipe: Pipe, kind: str, inner: Step, name: str) -> Step:
    """The step that runs ``pipe`` around ``inner`` (built once, when the flow is)."""
    pipe_method = pipe.method("pipe", kind)
    on_success = pipe.on_pipe_success if "on_pipe_success" in pipe.declared else None
    on_failure = pipe.on_pipe_failure if "on_pipe_failure" in pipe.declared else None
    if pipe_method is None and on_success is None and on_failure is None:
        return inner  # nothing of this pipe runs in the pipe stage of this kind

    async def step(event: Event, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            if pipe_method is None:
                result = await inner(event, **kwargs)
            else:
                result = await pipe_method(functools.partial(inner, event), event, **kwargs)
        except Exception as exc:
            event.timings[name] = (time.perf_counter() - started) * 1000
            if on_failure is not None:
                await on_failure(event, exc)
            raise
        event.timings[name] = (time.perf_counter() - started) * 1000
        if on_success is not None:
            await on_success(event)
        return result

    return step
