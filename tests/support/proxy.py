"""A test-only reverse proxy on 127.0.0.1 that misbehaves as real proxies do.

``TestProxy`` sits in front of a live server and forwards raw TCP, one HTTP request per
connection (it asks both sides for ``Connection: close`` so that it sees every request).
On demand it:

- refuses WebSocket upgrades (``refuse_upgrades``), answering ``403`` after
  ``upgrade_delay`` seconds, as corporate proxies that strip upgrades do;
- buffers ``text/event-stream`` responses until they end (``buffer_event_streams``), as
  reverse proxies with response buffering on do;
- cuts every open connection at once (``cut()``), as a network drop does.

It runs its own event loop in a thread, so synchronous tests (Selenium) can use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
HEAD_LIMIT = 64 * 1024
STOP_TIMEOUT = 5.0
REFUSAL = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class TestProxy:
    """A reverse proxy from a free port of 127.0.0.1 to ``127.0.0.1:upstream_port``."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(
        self,
        upstream_port: int,
        *,
        refuse_upgrades: bool = False,
        upgrade_delay: float = 0.0,
        buffer_event_streams: bool = False,
    ) -> None:
        self.upstream_port = upstream_port
        self.refuse_upgrades = refuse_upgrades
        self.upgrade_delay = upgrade_delay
        self.buffer_event_streams = buffer_event_streams
        self.port = 0
        self.refused_upgrades = 0
        self.buffered_streams = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen on a free port (``self.port``)."""
        self._thread.start()
        self._server = self._call(self._listen())
        self.port = int(self._server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        """Close the listener and every connection, then stop the loop and its thread."""
        if self._server is not None:
            self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(STOP_TIMEOUT)
        self._loop.close()

    def cut(self) -> int:
        """Drop every open connection (both sides) at once; return how many were open."""
        return self._call(self._cut())

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(STOP_TIMEOUT)

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=HEAD_LIMIT)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._cut()
        # Cut connections end their tasks by themselves. (Cancelling them instead would
        # make Python 3.11's start_server log each one as an error.)
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT / 2)
            for task in stuck:
                task.cancel()

    async def _cut(self) -> int:
        writers = list(self._writers)
        for writer in writers:
            writer.transport.abort()
        self._writers.clear()
        return len(writers)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            upgrade = b"\r\nupgrade: websocket" in head.lower()
            if upgrade and self.refuse_upgrades:
                await asyncio.sleep(self.upgrade_delay)
                self.refused_upgrades += 1
                writer.write(REFUSAL)
                await writer.drain()
                return
            up_reader, upstream = await asyncio.open_connection(
                "127.0.0.1", self.upstream_port, limit=HEAD_LIMIT
            )
            self._writers.add(upstream)
            upstream.write(head if upgrade else _close_after(head))
            inbound = asyncio.create_task(_pipe(reader, upstream))
            if self.buffer_event_streams and not upgrade:
                outbound = asyncio.create_task(self._relay_buffered(up_reader, writer))
            else:
                outbound = asyncio.create_task(_pipe(up_reader, writer))
            try:
                # Whichever side ends first ends the exchange.
                await asyncio.wait([inbound, outbound], return_when=asyncio.FIRST_COMPLETED)
            finally:
                inbound.cancel()
                outbound.cancel()
                await asyncio.gather(inbound, outbound, return_exceptions=True)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return  # a connection cut or closed by either side: nothing more to forward
        finally:
            for end in (writer, upstream):
                if end is not None and end in self._writers:
                    self._writers.discard(end)
                    end.close()  # after what is still buffered (cut() aborts instead)
            self._tasks.discard(task)

    async def _relay_buffered(
        self, upstream: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        head = await upstream.readuntil(b"\r\n\r\n")
        if b"\r\ncontent-type: text/event-stream" in head.lower():
            self.buffered_streams += 1
            client.write(head + await upstream.read())  # held until the stream ends
            await client.drain()
            return
        client.write(head)
        await _pipe(upstream, client)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while chunk := await source.read(65536):
        sink.write(chunk)
        await sink.drain()


def _close_after(head: bytes) -> bytes:
    """The request head with ``Connection: close`` instead of any Connection header."""
    lines = head[:-4].split(b"\r\n")
    kept = [
        line
        for line in lines[1:]
        if not line.lower().startswith((b"connection:", b"keep-alive:"))
    ]
    return b"\r\n".join([lines[0], *kept, b"Connection: close"]) + b"\r\n\r\n"


@contextlib.contextmanager
def proxy_to(upstream_port: int, **options: bool | float) -> Iterator[TestProxy]:
    """A started ``TestProxy`` (with ``TestProxy``'s options), stopped on leaving."""
    proxy = TestProxy(upstream_port, **options)  # type: ignore[arg-type]
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
