"""The future a reader waits on for news of its channels: done with True when a message
comes, with False at the reader's timeout."""

from __future__ import annotations

import asyncio

Waiter = asyncio.Future[bool]


async def wait_for_news(waiter: Waiter, timeout: float) -> bool:
    """``waiter``'s result, or False once ``timeout`` seconds have passed.

    A timer on the waiter itself, rather than ``asyncio.wait_for``: no Task, timeout
    context or second future per wait, of which a process of idle clients holds one
    each.
    """
    timer = waiter.get_loop().call_later(timeout, resolve, waiter, False)
    try:
        return await waiter
    finally:
        timer.cancel()


def resolve(waiter: Waiter, news: bool) -> None:
    """Set ``waiter``'s result unless it is done (woken, timed out, or cancelled)."""
    if not waiter.done():
        waiter.set_result(news)
