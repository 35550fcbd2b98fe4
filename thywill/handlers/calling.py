"""Calling user code that may be sync or async.

Sync code runs in Django's sync thread, where the ORM may be used. Django closes stale
database connections around each request (its ``request_started`` and
``request_finished`` signals), and Channels before each WebSocket frame, a thread hop
each time. thywill's transports skip both; instead every sync call closes stale
connections itself, in the thread that owns them, before and after it runs.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connections, transaction

from thywill.exceptions import TransactionRolledBackError

RECYCLE_INTERVAL = 1.0
"""Seconds between connection checks made on behalf of async user code."""

_next_recycle = 0.0


def close_stale_connections() -> None:
    """Close this thread's database connections that are broken or older than
    CONN_MAX_AGE, as Django does around a request; never one inside a transaction (a
    caller's ``atomic()``, or a test's), which Django's check would close too."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


def with_fresh_connections(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` closing stale database connections of its thread before and after."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        close_stale_connections()
        try:
            return function(*args, **kwargs)
        finally:
            close_stale_connections()

    return run


async def run_sync(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run sync ``function`` in Django's sync thread, with fresh database connections."""
    return await sync_to_async(with_fresh_connections(function), thread_sensitive=True)(
        *args, **kwargs
    )


async def recycle_connections() -> None:
    """Close stale connections of the sync thread, at most once per RECYCLE_INTERVAL.

    Async user code reaches the database through Django's async ORM, which runs in the
    sync thread. Sync calls recycle that thread's connections anyway; this bounds how long
    one can stay open (and go stale) when only async code runs, at one thread hop per
    interval instead of one per event.
    """
    global _next_recycle
    now = time.monotonic()
    if now < _next_recycle:
        return
    _next_recycle = now + RECYCLE_INTERVAL
    await sync_to_async(close_stale_connections, thread_sensitive=True)()


async def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a sync or async function; sync ones run in Django's sync thread (ORM-safe)."""
    if inspect.iscoroutinefunction(function):
        await recycle_connections()
        try:
            return await function(*args, **kwargs)
        finally:
            await recycle_connections()
    result = await run_sync(function, *args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


async def call_handler(
    handler: Callable[..., Any],
    *args: Any,
    transaction_alias: str | None,
    **kwargs: Any,
) -> Any:
    """Call an application's handler and return what it returned; a sync one runs
    inside a database transaction on ``transaction_alias`` (none when it is ``None``).

    Raises:
        TransactionRolledBackError: the handler marked its transaction for rollback.
    """
    if transaction_alias is None or inspect.iscoroutinefunction(handler):
        return await call(handler, *args, **kwargs)

    def atomically() -> object:
        with transaction.atomic(using=transaction_alias):
            result = handler(*args, **kwargs)
            rolled_back = transaction.get_rollback(using=transaction_alias)
        if rolled_back:
            raise TransactionRolledBackError(
                f"the transaction of {getattr(handler, '__qualname__', handler)} was "
                "rolled back"
            )
        return result

    result = await run_sync(atomically)
    if inspect.isawaitable(result):
        result = await result
    return result
