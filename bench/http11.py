"""A minimal HTTP/1.1 client on asyncio streams, for the load generator only.

httpx costs the load generator more CPU per request than the server under test can
spare on a two-core machine, so the benchmark speaks just the HTTP/1.1 it needs: one
keep-alive connection per purpose (as a browser keeps one per tab and purpose), one
request at a time on it, bodies framed by Content-Length, chunked transfer coding or
the end of the connection, and streamed bodies for Server-Sent Events.

Nothing here bounds time by itself: callers wrap every await in a timeout.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Mapping

READ_SIZE = 64 * 1024
MAX_HEAD_BYTES = 64 * 1024


class HttpError(Exception):
    """The server answered something this client cannot parse, or closed too early."""


@dataclasses.dataclass(frozen=True, slots=True)
class ResponseHead:
    """A response's status line and headers (names lower-cased, in order)."""

    status: int
    headers: tuple[tuple[str, str], ...]

    def values(self, name: str) -> list[str]:
        """Every value of one header (``name`` in lower case)."""
        return [value for key, value in self.headers if key == name]

    def value(self, name: str) -> str | None:
        """The last value of one header, or ``None``."""
        found = self.values(name)
        return found[-1] if found else None

    @property
    def chunked(self) -> bool:
        return "chunked" in (self.value("transfer-encoding") or "").lower()

    @property
    def content_length(self) -> int | None:
        value = self.value("content-length")
        return None if value is None else int(value)

    @property
    def keeps_alive(self) -> bool:
        return (self.value("connection") or "").lower() != "close"


@dataclasses.dataclass(frozen=True, slots=True)
class Response:
    """A whole response."""

    head: ResponseHead
    body: bytes


def parse_head(raw: bytes) -> ResponseHead:
    """Parse a status line and header block (ending with the blank line)."""
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise HttpError(f"not an HTTP/1.x status line: {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
    return ResponseHead(int(parts[1]), tuple(headers))


class HttpConnection:
    """One keep-alive connection to ``host:port``, opened on first use and reopened
    when the server closed it; one request at a time.

    Args:
        host: the server's address (the benchmark only ever passes ``127.0.0.1``).
        port: its TCP port.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._host_header = f"{host}:{port}"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Response:
        """Send one request and read its whole answer."""
        reader = await self._send(method, target, headers or {}, body)
        head = await self._read_head(reader)
        chunks = [chunk async for chunk in self._body(reader, head)]
        if not head.keeps_alive:
            self.close()
        return Response(head, b"".join(chunks))

    async def stream(
        self, target: str, headers: Mapping[str, str] | None = None
    ) -> tuple[ResponseHead, AsyncIterator[bytes]]:
        """GET ``target``; return its head and an iterator over body pieces as they come.

        The connection serves nothing else until the body ends or it is closed.
        """
        reader = await self._send("GET", target, headers or {}, b"")
        head = await self._read_head(reader)
        return head, self._body(reader, head)

    def close(self) -> None:
        """Close the connection (without waiting for the peer)."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def _send(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> asyncio.StreamReader:
        if self._reader is None or self._writer is None or self._reader.at_eof():
            self.close()
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header}"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        if body or method in {"POST", "PUT"}:
            lines.append(f"Content-Length: {len(body)}")
        self._writer.write("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body)
        await self._writer.drain()
        return self._reader

    @staticmethod
    async def _read_head(reader: asyncio.StreamReader) -> ResponseHead:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as error:
            raise HttpError("response head too long") from error
        if len(raw) > MAX_HEAD_BYTES:
            raise HttpError("response head too long")
        return parse_head(raw[:-4])

    @staticmethod
    async def _body(
        reader: asyncio.StreamReader, head: ResponseHead
    ) -> AsyncIterator[bytes]:
        if head.status in {204, 304} or 100 <= head.status < 200:
            return
        if head.chunked:
            while size := int((await reader.readline()).split(b";")[0], 16):
                yield (await reader.readexactly(size + 2))[:-2]
            await reader.readuntil(b"\r\n")  # the last chunk's CRLF (no trailers)
            return
        length = head.content_length
        if length is not None:
            if length:
                yield await reader.readexactly(length)
            return
        while piece := await reader.read(READ_SIZE):
            yield piece
