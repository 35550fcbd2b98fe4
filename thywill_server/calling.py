"""Calling user code that may be sync or async."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async


async def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a sync or async function; sync ones run in Django's sync thread (ORM-safe)."""
    if inspect.iscoroutinefunction(function):
        return await function(*args, **kwargs)
    result = await sync_to_async(function, thread_sensitive=True)(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result
