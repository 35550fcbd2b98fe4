"""Type aliases shared across thywill."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any, TypeAlias

JSON: TypeAlias = Mapping[str, "JSON"] | Sequence["JSON"] | str | int | float | bool | None
"""Any value that encodes to JSON: what applications send and receive."""

Scope: TypeAlias = MutableMapping[str, Any]
"""An ASGI connection scope."""

Message: TypeAlias = MutableMapping[str, Any]
"""An ASGI event, received or sent."""

Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[..., Awaitable[None]]
"""An ASGI application, ``app(scope, receive, send)`` (loosely typed: servers and
frameworks each type the three arguments their own way)."""
