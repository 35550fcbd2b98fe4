"""Hook scripts as a pipe: ``pre_<event>`` before the core, ``post_<event>`` after it."""

from __future__ import annotations

import logging
from typing import Any

from thywill.exceptions import FlowFailedError
from thywill.handlers.calling import call
from thywill.hooks.model import Model
from thywill.hooks.scripts import HookScripts
from thywill.pipeline import Event, Pipe
from thywill.pipeline.pipe import NextPipe

logger = logging.getLogger(__name__)

WRITABLE = frozenset({"data"})


def hook_names(event: Event) -> list[str]:
    """The hook names of an event, outermost first: ``message`` then its type's."""
    if event.kind == "message" and event.message_type is not None:
        return ["message", event.message_type.replace(".", "_")]
    return [event.kind]


def model_fields(event: Event) -> dict[str, Any]:
    """The fields a model of ``event`` carries (documentation/hooks.md lists them)."""
    fields: dict[str, Any] = {
        "event": event.kind,
        "application": event.application,
        "client_id": event.client_id,
        "user_id": event.ctx.user_id,
        "session_hash": event.ctx.identity.session_hash,
        "trace_id": event.trace_id,
    }
    if event.kind == "message":
        fields.update(data=event.data, type=event.message_type, seq=event.seq)
    elif event.kind in ("join", "leave"):
        fields.update(group=event.group, member=event.member)
    elif event.kind == "group_message":
        fields.update(group=event.group, data=event.data)
    return fields


class HookPipe(Pipe):
    """Runs the hook scripts' functions for every event, innermost in the pipeline.

    ``pre_<name>(model)`` functions run in order before the core; each may change
    ``model.data`` or call ``fail()``. Then the core runs, then ``post_<name>(model,
    succeeded)`` in reverse order, also when the core failed (``succeeded`` False). A
    ``fail()`` in a post function fails the flow, and replaces the core's own error.
    """

    def __init__(self, scripts: HookScripts) -> None:
        self.scripts = scripts

    async def pipe(self, next_pipe: NextPipe, event: Event, **kwargs: Any) -> Any:
        if self.scripts.reload:
            self.scripts.refresh()
        names = hook_names(event)
        fields = model_fields(event)
        for name in names:
            fields = await self._run(f"pre_{name}", event, fields)
        if "data" in fields:
            event.data = fields["data"]
        try:
            result = await next_pipe(**kwargs)
        except FlowFailedError:
            await self._post(names, event, fields, succeeded=False)
            raise
        except Exception as exc:
            try:
                await self._post(names, event, fields, succeeded=False)
            except FlowFailedError as failed:
                raise failed from exc
            except Exception:
                logger.exception(
                    "A post hook failed after the core had failed",
                    extra={"thywill_trace_id": event.trace_id},
                )
            raise
        await self._post(names, event, fields, succeeded=True)
        return result

    async def _post(
        self, names: list[str], event: Event, fields: dict[str, Any], *, succeeded: bool
    ) -> None:
        for name in reversed(names):
            fields = await self._run(f"post_{name}", event, fields, succeeded)

    async def _run(
        self, function_name: str, event: Event, fields: dict[str, Any], *args: Any
    ) -> dict[str, Any]:
        writable = (
            WRITABLE & fields.keys() if function_name.startswith("pre_") else frozenset()
        )
        for _, function in self.scripts.functions(function_name):
            model = Model(event.kind, dict(fields), frozenset(writable))
            try:
                await call(function, model, *args)
            finally:
                fields = model.expire()
        return fields
