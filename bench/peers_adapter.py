"""thywill's adapters for the peer harness's load generator (``PEERS_ADAPTERS``).

Loaded by the harness's ``loadgen.py`` (its ``bench/`` directory is on ``sys.path``, so
``adapters`` and ``fasthttp`` are its modules), with this directory on ``PYTHONPATH``.
Each simulated browser speaks thywill's real protocol (documentation/protocol.md):

1. GET ``/thywill/bench/init/``: a new client of the benchmark application (which puts
   it in the group ``all``), with its token, CSRF token and session cookie;
2. its feed: a WebSocket (``/thywill/websocket/``), an SSE stream (``/thywill/sse/``) or
   long-polls (``/thywill/longpoll/``, each from the cursor the last one answered);
3. each send: a ``send`` frame on the socket, or ``POST /thywill/send/`` with the CSRF
   header and Origin on a keep-alive connection of its own, numbered by ``seq``.

Only application data that is a string (the harness's payloads) reaches the harness's
callback; presence events (``thywill.join``, ``thywill.leave``, objects) do not.

Adapters: ``thywill-ws``, ``thywill-sse``, ``thywill-longpoll`` (one server process),
and ``thywill-ws-x``, ``thywill-sse-x``, ``thywill-longpoll-x`` for two processes through
Redis (``peers_server.py --redis-port``): the page is loaded from the second process and
the feed is on the first one, the one the harness measures. Each client sends as
thywill.js does: over its WebSocket (``-ws-x``, so the first process handles the message
and its echo comes back through Redis, as python-socketio's Redis manager does), or by
POST to the second process (``-sse-x``, ``-longpoll-x``: every echo crosses from one
process to the other through Redis). ``thywill-ws-xpost`` is the WebSocket with its
sends POSTed to the second process, as the HTTP transports do.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Callable
from typing import Any

import aiohttp
from adapters import Adapter, Client, LongPollClient, SseClient, WsClient, register
from fasthttp import HttpConn, HttpError
from http11 import HttpConnection
from peers_server import PAIR_PORT_OFFSET
from thywill_client import SEND_TYPE, Page, RejectedError, check_sent, load_page

OnMessage = Callable[[str], None]

INIT_PATH = "/thywill/bench/init/"
SEND_TIMEOUT = 10.0
"""The longest a send may wait for its answer (the harness bounds only the echo)."""
PAGE_TIMEOUT = 20.0
LONGPOLL_LIMIT = 40.0
"""The longest one long-poll may take: the server answers after 25 s at the latest."""


def deliver(on_message: OnMessage, data: Any) -> None:
    """Hand application data to the harness: strings only (not presence events)."""
    if isinstance(data, str):
        on_message(data)


def broadcast_message(payload: str) -> dict[str, str]:
    """The message that makes the benchmark application send ``payload`` to everyone."""
    return {"type": "broadcast", "data": payload}


class ThywillConn(HttpConn):
    """The harness's keep-alive HTTP/1.1 connection, with a client's own headers
    (cookies; CSRF token and Origin for sends) on every request."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        super().__init__(host, port)
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.extra = lines.encode("latin-1")

    def _req(self, method: str, path: str, body: bytes | None, ctype: bytes) -> bytes:
        request: bytes = super()._req(method, path, body, ctype)
        start = request.index(b"\r\n") + 2  # after the request line
        return request[:start] + self.extra + request[start:]

    async def stream(
        self,
        path: str,
        on_data: Callable[[bytes], None],
        headers: bytes = b"Accept: text/event-stream\r\n",
    ) -> int:
        status: int = await super().stream(path, on_data, headers + self.extra)
        return status


class Sender:
    """POSTs a client's messages to the send endpoint of its home server."""

    def __init__(self, page: Page, host: str, port: int) -> None:
        self.page = page
        self.conn = ThywillConn(host, port, page.send_headers(f"http://{host}:{port}"))
        self.seq = 0

    async def send(self, data: Any) -> None:
        """One message; returns once its answer says ``ok``.

        Raises:
            RejectedError: refused, or not ``ok``.
            TimeoutError: no answer within SEND_TIMEOUT.
        """
        self.seq += 1
        request = self.conn.request(
            "POST",
            self.page.endpoint("send"),
            self.page.send_body(self.seq, data),
            SEND_TYPE.encode(),
        )
        status, body = await asyncio.wait_for(request, SEND_TIMEOUT)
        if status != 200:
            raise RejectedError(f"send answered {status}: {body[:200]!r}")
        check_sent(json.loads(body)["results"])

    def close(self) -> None:
        self.conn.close()


class ThywillWsClient(WsClient):
    """The feed and the sends on one socket: ``batch`` frames in, ``send`` frames out.

    Each ``send`` frame is answered, in order, by a ``sent`` frame or inside the batch
    frame that delivers its echo (``sentInBatch``, as thywill.js asks); an answer that is
    not ``ok`` is raised by the next send (the harness counts it as a send error).
    """

    def __init__(self, ws: Any, on_message: OnMessage, sender: Sender | None) -> None:
        super().__init__(ws, on_message, prefix="")
        self.sender = sender
        self.seq = 0
        self.refused: collections.deque[str] = collections.deque()

    def handle(self, text: str) -> None:
        frame = json.loads(text)
        kind = frame["type"]
        if kind == "batch":
            if "sent" in frame:  # the answer rode in the batch (sentInBatch)
                self.check_answer(frame["sent"], text)
            for message in frame["messages"]:
                deliver(self.on_message, message["data"])
        elif kind == "sent":
            self.check_answer(frame, text)
        elif kind == "error":
            self.closed = True

    def check_answer(self, answer: dict[str, Any], text: str) -> None:
        """Keep a send's answer that is not ``ok`` for the next send to raise."""
        if "results" not in answer or any(
            result["status"] != "ok" for result in answer["results"]
        ):
            self.refused.append(text[:200])

    async def send(self, payload: str) -> None:
        await self.send_data(payload)

    async def send_data(self, data: Any) -> None:
        if self.refused:
            raise RejectedError(f"a send frame was answered {self.refused.popleft()}")
        if self.sender is not None:
            await self.sender.send(data)
            return
        self.seq += 1
        frame = {"type": "send", "messages": [{"seq": self.seq, "data": data}]}
        await self.ws.send_str(json.dumps(frame))

    async def close(self) -> None:
        await super().close()
        if self.sender is not None:
            self.sender.close()


class SendsByPost:
    """A feed client whose sends go by POST, through its ``Sender``."""

    sender: Sender

    async def send(self, payload: str) -> None:
        await self.sender.send(payload)

    async def send_data(self, data: Any) -> None:
        await self.sender.send(data)

    async def close(self) -> None:
        await super().close()  # type: ignore[misc]
        self.sender.close()


class ThywillSseClient(SendsByPost, SseClient):
    """The harness's SSE client on thywill's stream: ``message`` events carry a
    delivered message object, whose ``data`` is the payload."""

    def __init__(
        self, adapter: ThywillAdapter, idx: int, on_message: OnMessage, sender: Sender
    ) -> None:
        super().__init__(
            adapter,
            idx,
            lambda text: deliver(on_message, json.loads(text)["data"]),
            events=("message",),
        )
        self.conn = ThywillConn(adapter.host, adapter.port, sender.page.feed_headers)
        self.sender = sender


class ThywillLongPollClient(SendsByPost, LongPollClient):
    """Long-polls in a loop, each from the cursor the previous answer gave."""

    def __init__(
        self, adapter: ThywillAdapter, idx: int, on_message: OnMessage, sender: Sender
    ) -> None:
        super().__init__(adapter, idx, on_message)
        self.poll_conn = ThywillConn(adapter.host, adapter.port, sender.page.feed_headers)
        self.sender = sender
        self.cursor = str(sender.page.config["cursor"])

    async def poll(self, **params: str) -> bool:
        """One long-poll; hands its messages over; whether it answered 200."""
        target = self.sender.page.feed_target("longpoll", self.cursor, **params)
        request = self.poll_conn.request("GET", target)
        status, body = await asyncio.wait_for(request, LONGPOLL_LIMIT)
        if status != 200:
            return False
        answer = json.loads(body)
        self.cursor = answer["cursor"]
        for message in answer["messages"]:
            deliver(self.on_message, message["data"])
        return True

    async def open(self) -> None:
        if not await self.poll(wait="0"):  # answers at once: the feed is up
            raise RejectedError("the first long-poll was refused")
        self.task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        try:
            while not self.closed and await self.poll():
                pass
        except (OSError, HttpError, TimeoutError, ValueError, KeyError):
            pass
        finally:
            self.closed = True


class ThywillAdapter(Adapter):
    """A client per simulated browser; broadcasts are sent by the publisher client."""

    home_offset = 0
    """How far above the harness's port the page and the sends go (0: same process)."""

    async def page(self) -> Page:
        """A new client: its bootstrap page, loaded from its home server."""
        connection = HttpConnection(self.host, self.port + self.home_offset)
        try:
            return await asyncio.wait_for(load_page(connection, INIT_PATH), PAGE_TIMEOUT)
        finally:
            connection.close()

    def sender(self, page: Page) -> Sender:
        """What POSTs the client's messages to its home server."""
        return Sender(page, self.host, self.port + self.home_offset)

    async def broadcast(self, payload: str) -> None:
        publisher = await self.publisher()
        await publisher.send_data(broadcast_message(payload))


@register("thywill-ws")
class ThywillWs(ThywillAdapter):
    posts = False
    """Whether the socket is the feed only, its client's messages POSTed instead."""

    async def connect(self, idx: int, on_message: OnMessage) -> Client:
        page = await self.page()
        assert self.session is not None  # opened by start()
        ws = await self.session.ws_connect(
            f"{self.ws_base}{page.feed_target('websocket', page.config['cursor'])}",
            headers={"Cookie": page.cookie_header, "Origin": self.base},
            autoping=True,
            heartbeat=None,
            max_msg_size=0,
        )
        await ws.send_str(page.auth_frame)
        opened = await asyncio.wait_for(ws.receive(), PAGE_TIMEOUT)
        if (
            opened.type != aiohttp.WSMsgType.TEXT
            or json.loads(opened.data)["type"] != "open"
        ):
            await ws.close()
            raise RejectedError(f"the socket did not open: {opened.data!r}")
        sender = self.sender(page) if self.posts else None
        return ThywillWsClient(ws, on_message, sender)


@register("thywill-sse")
class ThywillSse(ThywillAdapter):
    async def connect(self, idx: int, on_message: OnMessage) -> Client:
        page = await self.page()
        client = ThywillSseClient(self, idx, on_message, self.sender(page))
        await client.open(page.feed_target("sse", page.config["cursor"]))
        return client


@register("thywill-longpoll")
class ThywillLongPoll(ThywillAdapter):
    async def connect(self, idx: int, on_message: OnMessage) -> Client:
        page = await self.page()
        client = ThywillLongPollClient(self, idx, on_message, self.sender(page))
        await client.open()
        return client


@register("thywill-ws-x")
class ThywillWsCross(ThywillWs):
    home_offset = PAIR_PORT_OFFSET


@register("thywill-ws-xpost")
class ThywillWsCrossPost(ThywillWs):
    home_offset = PAIR_PORT_OFFSET
    posts = True


@register("thywill-sse-x")
class ThywillSseCross(ThywillSse):
    home_offset = PAIR_PORT_OFFSET


@register("thywill-longpoll-x")
class ThywillLongPollCross(ThywillLongPoll):
    home_offset = PAIR_PORT_OFFSET
