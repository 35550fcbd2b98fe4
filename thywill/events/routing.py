"""Which handler a message goes to: ``on_<type>`` for a typed message, else on_message."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from thywill.application.spec import ApplicationSpec
from thywill.pipeline import EVENT_KINDS
from thywill.types import JSON

MESSAGE_TYPE = re.compile(r"[a-z][a-z0-9_]{0,49}(\.[a-z][a-z0-9_]{0,49}){0,3}")
# A type that would name an event's own handler or hooks is not routed by type.
RESERVED_TYPES = frozenset(EVENT_KINDS)


def message_type_of(data: JSON) -> str | None:
    """A message's ``type``, when its data is an object with a valid, unreserved one."""
    if not isinstance(data, Mapping):
        return None
    kind = data.get("type")
    if (
        isinstance(kind, str)
        and MESSAGE_TYPE.fullmatch(kind)
        and kind.replace(".", "_") not in RESERVED_TYPES
    ):
        return kind
    return None


def message_handler(
    app: ApplicationSpec, message_type: str | None
) -> tuple[str, Callable[..., Any]]:
    """The handler of a message and its name: ``on_<type>`` (dots become underscores)
    when the application has it, else ``on_message``."""
    if message_type is not None:
        name = "on_" + message_type.replace(".", "_")
        handler = getattr(app.app, name, None)
        if callable(handler):
            return name, handler
    return "on_message", app.app.on_message


def event_handler(
    app: ApplicationSpec, kind: str, message_type: str | None
) -> tuple[str, Callable[..., Any] | None]:
    """The handler of an event and its name: a message's by its type, ``on_connect`` and
    ``on_disconnect``; none for joins, leaves and group messages, which the framework
    itself carries out."""
    if kind == "message":
        return message_handler(app, message_type)
    if kind in ("connect", "disconnect"):
        name = f"on_{kind}"
        handler: Callable[..., Any] = getattr(app.app, name)
        return name, handler
    return "", None
