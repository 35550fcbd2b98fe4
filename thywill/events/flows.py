"""The process's flows: each pipeline composed once per application, event and handler.

The pipes of a flow, outermost first: the global ones (THYWILL_PIPELINE), the
application's (its ``pipeline`` attribute), the handler's (``use_pipes``), then the hook
scripts (the site's THYWILL_HOOKS, then the application's own ``hooks`` folder), closest
to the core.

The core of a connect, message or disconnect event calls the application's handler, then
runs the joins, leaves and group messages it asked for as events of their own, each
through its flow, inside the handler's: their cores put the membership change or the
group message in the event's outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from thywill import metrics
from thywill.application.spec import ApplicationSpec
from thywill.events.routing import event_handler
from thywill.feed.channels import group_channel
from thywill.handlers.calling import call_handler
from thywill.handlers.outbox import Change
from thywill.pipeline import PIPES_ATTRIBUTE, Event, Flow, Pipe
from thywill.pipeline.flow import Core
from thywill.types import JSON

FlowKey = tuple[str, str, str]


class FlowRegistry:
    """Flows built on first use and kept for the registry's lifetime.

    Args:
        load_pipes: builds the global pipes (on first use).
        load_hooks: builds the site's hook-script pipe, if any (on first use).
        load_app_hooks: builds an application's own hook-script pipe, if any (on first
            use per application).
    """

    def __init__(
        self,
        *,
        load_pipes: Callable[[], Sequence[Pipe]],
        load_hooks: Callable[[], Pipe | None],
        load_app_hooks: Callable[[ApplicationSpec], Pipe | None],
    ) -> None:
        self._load_pipes = load_pipes
        self._load_hooks = load_hooks
        self._load_app_hooks = load_app_hooks
        self._flows: dict[FlowKey, Flow] = {}
        self._global: tuple[Pipe, ...] | None = None
        self._hooks: tuple[Pipe, ...] | None = None
        self._app_hooks: dict[str, tuple[Pipe, ...]] = {}

    def pipes_for(
        self, app: ApplicationSpec, handler: Callable[..., Any] | None
    ) -> list[Pipe]:
        """Every pipe of a flow of ``app`` around ``handler`` (None: no handler)."""
        if self._global is None:
            self._global = tuple(self._load_pipes())
        if self._hooks is None:
            self._hooks = _present(self._load_hooks())
        if app.name not in self._app_hooks:
            self._app_hooks[app.name] = _present(self._load_app_hooks(app))
        handler_pipes = getattr(handler, PIPES_ATTRIBUTE, ())
        return [
            *self._global,
            *app.pipeline,
            *handler_pipes,
            *self._hooks,
            *self._app_hooks[app.name],
        ]

    def flow(
        self, app: ApplicationSpec, kind: str, message_type: str | None = None
    ) -> Flow:
        """The flow of one kind of event of an application (built once, then reused).

        Raises:
            Exception: whatever building a pipe or loading a hook script raised.
        """
        name, handler = event_handler(app, kind, message_type)
        key = (app.name, kind, name)
        flow = self._flows.get(key)
        if flow is None:
            if handler is None:
                core = self._staging_core(app, kind)
            else:
                core = self._handler_core(app, kind, handler)
            flow = self._flows[key] = Flow(self.pipes_for(app, handler), kind, core)
        return flow

    def outbound(self, app: ApplicationSpec) -> Callable[[JSON], JSON]:
        """The ``on_send`` transforms of the application's own pipes (global, the
        application's, its hook scripts), for what the server sends outside any event."""
        return self.flow(app, "group_message").send  # no handler: no handler pipes

    def _handler_core(
        self, app: ApplicationSpec, kind: str, handler: Callable[..., Any]
    ) -> Core:
        async def core(event: Event, **kwargs: Any) -> None:
            args = (event.data,) if kind == "message" else ()
            started = metrics.clock()
            try:
                returned = await call_handler(
                    handler,
                    event.ctx,
                    *args,
                    transaction_alias=app.transaction_alias,
                    **kwargs,
                )
            finally:
                metrics.handled(app.name, kind, started)
            if kind == "message":
                event.reply = returned
            await self._run_requests(app, event)

        return core

    def _staging_core(self, app: ApplicationSpec, kind: str) -> Core:
        async def core(event: Event, **kwargs: Any) -> None:
            assert event.group is not None
            outbox = event.ctx.outbox
            channel = group_channel(event.application, event.group)
            if kind == "group_message":
                outbox.add_message(channel, event.data)
            else:
                assert event.member is not None
                announce = app.announces(event.group)
                outbox.changes.append(
                    Change(kind, channel, event.member, announce, app.per_user_presence)
                )

        return core

    async def _run_requests(self, app: ApplicationSpec, parent: Event) -> None:
        """Run the joins, leaves and group messages the handler asked for, in order."""
        while requests := parent.ctx.outbox.take_requests():
            for request in requests:
                event = Event(
                    request.kind,
                    parent.ctx,
                    data=request.data,
                    group=request.group,
                    member=request.member,
                    trace_id=parent.trace_id,
                )
                await self.flow(app, request.kind)(event)


def _present(pipe: Pipe | None) -> tuple[Pipe, ...]:
    return () if pipe is None else (pipe,)
