"""The scripts that one event loop calls in one turn go to Redis together, as one pipeline.

A server process under load has many requests in flight, and each runs one or two Redis
scripts. Sent one by one, every script costs a connection from the pool, a socket write,
a read and the client library's bookkeeping; sent together, a turn's scripts cost one of
each. Redis runs a pipeline's scripts one after the other, in the order they were called,
and each script stays atomic: nothing about what a script does or returns changes, only
how many round trips carry them. A script called alone is sent alone, as before.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

Send = Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]
"""Runs one Redis operation (the backend's ``_call``: outage episodes and metrics)."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Call:
    script: AsyncScript
    keys: Sequence[str]
    args: Sequence[Any]
    reply: asyncio.Future[Any]


class ScriptBatch:
    """Collects one event loop's script calls and sends each turn's as one pipeline.

    Args:
        client: the loop's Redis client.
        scripts: its registered scripts, by name.
        send: how an operation is run (every batch is one round trip).
    """

    def __init__(
        self, client: aioredis.Redis, scripts: Mapping[str, AsyncScript], send: Send
    ) -> None:
        self._client = client
        self._scripts = scripts
        self._send = send
        self._pending: list[_Call] = []
        self._running: set[asyncio.Task[None]] = set()

    def call(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Awaitable[Any]:
        """Run the script ``name``; its reply, or the error it raised, when awaited.

        Raises (when awaited):
            PushUnavailableError: Redis could not be reached (as ``send`` raises it).
            redis.exceptions.ResponseError: the script failed.
        """
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        self._pending.append(_Call(self._scripts[name], keys, args, reply))
        if len(self._pending) == 1:
            loop.call_soon(self._flush)
        return reply

    def _flush(self) -> None:
        calls, self._pending = self._pending, []
        # A task of its own: a caller that is cancelled does not cancel the others' calls.
        task = asyncio.get_running_loop().create_task(self._run(calls))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, calls: list[_Call]) -> None:
        try:
            if len(calls) == 1:
                only = calls[0]
                replies: list[Any] = [await self._send(lambda: self._alone(only))]
            else:
                replies = await self._send(lambda: self._pipelined(calls))
        except asyncio.CancelledError:
            for call in calls:
                call.reply.cancel()
            raise
        except Exception as exc:  # noqa: BLE001  (every call of the batch failed alike)
            for call in calls:
                _settle(call.reply, exc)
            return
        for call, reply in zip(calls, replies, strict=True):
            if isinstance(reply, NoScriptError):  # Redis lost its scripts (a restart)
                reply = await self._retried(call)
            _settle(call.reply, reply)

    async def _retried(self, call: _Call) -> Any:
        """One call again, alone: its reply or its error."""
        try:
            return await self._send(lambda: self._alone(call))
        except Exception as exc:  # noqa: BLE001  (the caller's to raise)
            return exc

    @staticmethod
    async def _alone(call: _Call) -> Any:
        """One script, loaded first if Redis does not know it (redis-py does that)."""
        return await call.script(keys=call.keys, args=call.args)

    async def _pipelined(self, calls: list[_Call]) -> list[Any]:
        """The scripts in one pipeline; each reply, or the error of its script."""
        async with self._client.pipeline(transaction=False) as pipe:
            for call in calls:
                pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
            return await pipe.execute(raise_on_error=False)


def _settle(reply: asyncio.Future[Any], outcome: Any) -> None:
    if reply.done():  # its caller was cancelled
        return
    if isinstance(outcome, BaseException):
        reply.set_exception(outcome)
    else:
        reply.set_result(outcome)
