"""thywill's HTTP protocol (documentation/protocol.md) for the load generators.

``load_page`` loads a bootstrap page: a new client id, token, CSRF token and session
cookie, as a ``Page`` that builds the requests of that client (send bodies and headers,
feed queries). The peer harness's thywill adapters (``peers_adapter.py``) use it with
their own HTTP client; ``ThywillTab`` is one whole simulated tab on ``http11``, for
``cross_process.py``.

A ``ThywillTab`` loads the bootstrap page from its *home* server, sends on the home
server, and reads what is pushed to it from its *feed* server, over Server-Sent Events
or long-poll. Home and feed may be two processes: cookies belong to the host whatever
the port, so the same session is good on both, as behind a round-robin balancer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias
from urllib.parse import urlencode

from http11 import HttpConnection, HttpError, Response

Transport: TypeAlias = Literal["sse", "longpoll"]
OnMessage: TypeAlias = Callable[[Any], None]
"""Called with the ``data`` of every message pushed to the tab, in arrival order."""

NETWORK_ERRORS = (OSError, EOFError, HttpError, ValueError, KeyError)
"""What a request can fail with: the network (timeouts included), framing, bad JSON."""
LONGPOLL_MARGIN = 5.0
"""How much longer than the server's own long-poll timeout a poll may take."""
SEND_TYPE = "application/json"
"""The content type of a send's body."""
INIT_PATH = "/thywill/init/"
"""The default application's bootstrap page; ``/thywill/<name>/init/`` for another."""
CONFIG_SCRIPT = re.compile(
    r'<script id="thywill-config" type="application/json">(.*?)</script>', re.DOTALL
)


class RejectedError(Exception):
    """The server answered a request with an error status, or a send was not ``ok``."""


@dataclass(frozen=True, slots=True)
class Server:
    """A server process's address (the benchmark only uses 127.0.0.1)."""

    host: str
    port: int

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"


class SseParser:
    """Splits a Server-Sent Events byte stream into ``(event, data)`` pairs."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, piece: bytes) -> list[tuple[str, str]]:
        """The events completed by this piece of the stream (comments dropped)."""
        self._buffer += piece.decode().replace("\r\n", "\n")
        *blocks, self._buffer = self._buffer.split("\n\n")
        return [event for block in blocks if (event := _parse_block(block)) is not None]


def _parse_block(block: str) -> tuple[str, str] | None:
    event, data = "message", []
    for line in block.split("\n"):
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    return (event, "\n".join(data)) if data else None


def parse_config(html: str) -> dict[str, Any]:
    """The JSON configuration embedded in a bootstrap page."""
    found = CONFIG_SCRIPT.search(html)
    if found is None:
        raise RejectedError("the bootstrap page has no thywill-config script")
    config: dict[str, Any] = json.loads(found.group(1))
    return config


@dataclass(frozen=True, slots=True)
class Page:
    """A loaded bootstrap page: the client's configuration and the cookies it set."""

    config: dict[str, Any]
    cookies: dict[str, str]

    @property
    def cookie_header(self) -> str:
        """The ``Cookie`` header of every later request of this client."""
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def endpoint(self, name: str) -> str:
        """The path of an endpoint: ``send``, ``sse``, ``longpoll`` or ``websocket``."""
        return str(self.config["endpoints"][name])

    def feed_target(self, name: str, cursor: str, **params: str) -> str:
        """The request target of a feed endpoint, from ``cursor`` (the token is never in
        it: ``feed_headers``, ``auth_frame``)."""
        query = urlencode({"cursor": cursor, **params})
        return f"{self.endpoint(name)}?{query}"

    @property
    def feed_headers(self) -> dict[str, str]:
        """The headers of a long-poll or SSE request: the cookie and the token."""
        return {"Cookie": self.cookie_header, "X-Thywill-Token": str(self.config["token"])}

    @property
    def auth_frame(self) -> str:
        """The first frame of a WebSocket: ``auth``, with the token, asking for send
        answers inside batch frames as thywill.js does."""
        return json.dumps(
            {"type": "auth", "token": self.config["token"], "sentInBatch": True}
        )

    def send_headers(self, origin: str) -> dict[str, str]:
        """The headers of a POST to the send endpoint of the server at ``origin``
        (besides its ``Content-Type``, ``SEND_TYPE``)."""
        return {
            "X-CSRFToken": self.config["csrfToken"],
            "Origin": origin,
            "Cookie": self.cookie_header,
        }

    def send_body(self, seq: int, data: Any) -> bytes:
        """The body of a POST to the send endpoint: one message."""
        messages = [{"seq": seq, "data": data}]
        return json.dumps({"token": self.config["token"], "messages": messages}).encode()


async def load_page(connection: HttpConnection, path: str = INIT_PATH) -> Page:
    """GET a bootstrap page: a new client.

    Raises:
        RejectedError: the server refused it, or it has no configuration.
    """
    response = await connection.request("GET", path)
    _check(response)
    cookies = {}
    for header in response.head.values("set-cookie"):
        name, _, value = header.split(";", 1)[0].partition("=")
        cookies[name.strip()] = value.strip()
    return Page(parse_config(response.body.decode()), cookies)


def check_sent(results: Any) -> None:
    """Raise unless every result of a send answer is ``ok``.

    Raises:
        RejectedError: a message was not ``ok``.
    """
    for result in results:
        if result["status"] != "ok":
            raise RejectedError(f"send answered {result}")


class ThywillTab:
    """One browser tab: bootstrap and send on ``home``, receive from ``feed``.

    Args:
        home: where the page is loaded and messages are sent.
        feed: where the SSE stream or long-poll requests go.
        transport: ``"sse"`` or ``"longpoll"``.
        on_message: called with each pushed message's ``data``.
    """

    def __init__(
        self, home: Server, feed: Server, transport: Transport, on_message: OnMessage
    ) -> None:
        self.home = home
        self.feed = feed
        self.transport = transport
        self.on_message = on_message
        self.closed = False
        self.error: BaseException | None = None
        self.page = Page({}, {})
        self._seq = 0
        self._sender = HttpConnection(home.host, home.port)
        self._receiver = HttpConnection(feed.host, feed.port)
        self._ready = asyncio.Event()
        self._reading: asyncio.Task[None] | None = None

    async def connect(self, timeout: float) -> None:
        """Bootstrap, then open the feed; return once the feed answered.

        Raises:
            RejectedError: the server refused the page or the feed.
            TimeoutError: not connected within ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            self.page = await load_page(self._sender)
            self._reading = asyncio.create_task(self._read_feed())
            await self._ready.wait()
        if self.error is not None:
            raise self.error

    async def send(self, data: Any, timeout: float) -> None:
        """POST one message; return once the server accepted it.

        Raises:
            RejectedError: the send was refused or its result is not ``ok``.
            TimeoutError: no answer within ``timeout`` seconds.
        """
        self._seq += 1
        async with asyncio.timeout(timeout):
            response = await self._sender.request(
                "POST",
                self.page.endpoint("send"),
                {"Content-Type": SEND_TYPE, **self.page.send_headers(self.home.origin)},
                self.page.send_body(self._seq, data),
            )
        _check(response)
        check_sent(json.loads(response.body)["results"])

    async def close(self) -> None:
        """Stop reading and close both connections."""
        self.closed = True
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, *NETWORK_ERRORS):
                await self._reading
        self._sender.close()
        self._receiver.close()

    # --- the feed ----------------------------------------------------------------------

    async def _read_feed(self) -> None:
        read = self._read_sse if self.transport == "sse" else self._read_longpoll
        try:
            await read()
        except (*NETWORK_ERRORS, RejectedError) as error:
            self.error = error
        finally:
            self.closed = True
            self._ready.set()

    async def _read_sse(self) -> None:
        head, body = await self._receiver.stream(
            self.page.feed_target("sse", self.page.config["cursor"]),
            {"Accept": "text/event-stream", **self.page.feed_headers},
        )
        if head.status != 200:
            raise RejectedError(f"the SSE stream answered {head.status}")
        await self._dispatch_sse(body)

    async def _dispatch_sse(self, body: AsyncIterator[bytes]) -> None:
        parser = SseParser()
        async for piece in body:
            for event, data in parser.feed(piece):
                if event == "open":
                    self._ready.set()
                elif event == "message":
                    self.on_message(json.loads(data)["data"])

    async def _read_longpoll(self) -> None:
        cursor, first = str(self.page.config["cursor"]), True
        limit = float(self.page.config["limits"]["longpollTimeout"]) + LONGPOLL_MARGIN
        while True:
            # The first answers at once (wait=0): the feed is up.
            extra = {"wait": "0"} if first else {}
            async with asyncio.timeout(limit):
                response = await self._receiver.request(
                    "GET",
                    self.page.feed_target("longpoll", cursor, **extra),
                    self.page.feed_headers,
                )
            _check(response)
            answer = json.loads(response.body)
            cursor, first = answer["cursor"], False
            self._ready.set()
            for message in answer["messages"]:
                self.on_message(message["data"])


def _check(response: Response) -> None:
    if not 200 <= response.head.status < 300:
        text = response.body[:200].decode(errors="replace")
        raise RejectedError(f"answered {response.head.status}: {text}")
