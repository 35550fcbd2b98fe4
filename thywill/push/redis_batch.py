"""The commands that one event loop sends in one turn go to Redis together, as one pipeline.

A server process under load has many requests in flight, and each runs one or two Redis
scripts (and a long-poll two reads: whether its session ended, which groups it is in).
Sent one by one, every command costs a connection from the pool, a socket write, a read
and the client library's bookkeeping; sent together, a turn's commands cost one of each.
Redis runs a pipeline's commands one after the other, in the order they were sent, and
each script stays atomic: nothing about what a command does or returns changes, only how
many round trips carry them. A command sent alone is sent alone, as before.

A batch is packed (hiredis) and its replies read here, on a connection of the client's
pool, rather than by a redis-py pipeline: the pipeline's per-command bookkeeping (an
argument encoder per value, a read timeout per reply) cost about three times what the
scripts' own packing and parsing do, and it was most of a server's Redis time
(documentation/performance.md).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, ResponseError

Send = Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]
"""Runs one Redis operation (the backend's ``_call``: outage episodes and metrics)."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Call:
    packed: bytes
    script: AsyncScript | None
    """The script an ``EVALSHA`` runs (loaded again if Redis lost it), else None."""
    reply: asyncio.Future[Any]


class CommandBatch:
    """Collects one event loop's script calls and commands and sends each turn's as one
    pipeline.

    Args:
        client: the loop's Redis client (its pool lends the connections).
        scripts: its registered scripts, by name.
        send: how an operation is run (every batch is one round trip).
        timeout: seconds a batch may take, sent and answered, before it fails with
            ``TimeoutError`` (its connection is closed: half read, it is of no use).
    """

    def __init__(
        self,
        client: aioredis.Redis,
        scripts: Mapping[str, AsyncScript],
        send: Send,
        timeout: float,
    ) -> None:
        self._client = client
        self._scripts = scripts
        self._send = send
        self._timeout = timeout
        self._pending: list[_Call] = []
        self._running: set[asyncio.Task[None]] = set()

    def call(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Awaitable[Any]:
        """Run the script ``name``; its reply, or the error it raised, when awaited.

        Raises (when awaited):
            PushUnavailableError: Redis could not be reached (as ``send`` raises it).
            redis.exceptions.ResponseError: the script failed.
        """
        script = self._scripts[name]
        packed = hiredis.pack_command(("EVALSHA", script.sha, len(keys), *keys, *args))
        return self._add(packed, script)

    def command(self, *words: str | bytes | int) -> Awaitable[Any]:
        """Send one command (``"EXISTS", key``); its reply, or its error, when awaited.

        Raises (when awaited):
            PushUnavailableError: Redis could not be reached (as ``send`` raises it).
            redis.exceptions.ResponseError: Redis refused the command.
        """
        # hiredis's stub types the command as a tuple of one item; it takes any length.
        return self._add(hiredis.pack_command(words), None)  # type: ignore[arg-type]

    def _add(self, packed: bytes, script: AsyncScript | None) -> Awaitable[Any]:
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        self._pending.append(_Call(packed, script, reply))
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
            replies = await self._send(lambda: self._pipelined(calls))
        except asyncio.CancelledError:
            for call in calls:
                call.reply.cancel()
            raise
        except Exception as exc:  # noqa: BLE001  (every call of the batch failed alike)
            for call in calls:
                _settle(call.reply, exc)
            return
        lost = [
            c for c, r in zip(calls, replies, strict=True) if isinstance(r, NoScriptError)
        ]
        if lost:  # Redis lost its scripts (a restart, SCRIPT FLUSH): load them, again
            replies = await self._again(calls, replies, lost)
        for call, reply in zip(calls, replies, strict=True):
            _settle(call.reply, reply)

    async def _again(
        self, calls: list[_Call], replies: list[Any], lost: list[_Call]
    ) -> list[Any]:
        """The replies, with the calls of scripts Redis did not know sent again once
        those are loaded (each call's error instead where that fails)."""
        try:
            scripts = {id(c.script): c.script for c in lost if c.script is not None}
            await self._send(lambda: self._load(scripts))
            again = iter(await self._send(lambda: self._pipelined(lost)))
        except Exception as exc:  # noqa: BLE001  (the callers' to raise)
            again = iter([exc] * len(lost))
        return [next(again) if isinstance(r, NoScriptError) else r for r in replies]

    async def _load(self, scripts: Mapping[int, AsyncScript]) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            for script in scripts.values():
                pipe.script_load(script.script)
            await pipe.execute()

    async def _pipelined(self, calls: list[_Call]) -> list[Any]:
        """The commands sent together on one connection; each reply, or the error of its
        command."""
        packed = b"".join(c.packed for c in calls)
        pool = self._client.connection_pool
        connection = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            async with asyncio.timeout(self._timeout):
                await connection.send_packed_command(packed)
                replies: list[Any] = []
                for _ in calls:
                    try:
                        # No timeout of its own per reply: the batch has one.
                        replies.append(await connection.read_response(timeout=math.inf))
                    except ResponseError as exc:  # that command's; the others go on
                        replies.append(exc)
        except BaseException:
            await connection.disconnect(nowait=True)
            raise
        finally:
            await pool.release(connection)
        return replies


def _settle(reply: asyncio.Future[Any], outcome: Any) -> None:
    if reply.done():  # its caller was cancelled
        return
    if isinstance(outcome, BaseException):
        reply.set_exception(outcome)
    else:
        reply.set_result(outcome)
