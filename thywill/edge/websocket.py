"""WebSocket: one connection that carries a client's feed and its sends.

The browser opens ``<prefix>/websocket/?cursor=C`` (the URL named ``thywill:websocket``;
``WebsocketRouter`` routes it here). The consumer accepts, checks that the transport is
enabled and the Origin, then waits for the client's first frame, ``{"type": "auth",
"token": T}`` (a browser cannot set headers on a WebSocket, and a token in the URL lands
in access logs), for at most AUTH_TIMEOUT seconds. It checks the token as every
transport does, then sends an ``open`` frame and the client's feed from the cursor as
``batch`` frames (a ``keepalive`` frame after SSE_KEEPALIVE seconds of silence).
Nothing is delivered before the auth frame passed. The client then sends ``send``
frames, handled exactly as ``POST <prefix>/send/`` bodies are and each answered by a
``sent`` frame. Every refusal is an ``error`` frame and a close code
(``thywill.wire.frames``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http.cookie import parse_cookie
from django.utils.http import is_same_domain

from thywill import conf, metrics
from thywill.edge.direct import route_path
from thywill.edge.feeds import (
    close_connections,
    count_delivered,
    new_feed,
    new_shared_feed,
    open_connection,
    open_connections,
    refuse_token_in_query,
    require_enabled,
)
from thywill.edge.sessions import authenticate
from thywill.edge.shutdown import drain, refusal
from thywill.exceptions import (
    ErrorCode,
    PushUnavailableError,
    RejectedError,
)
from thywill.feed.budget import StreamBudget
from thywill.feed.connections import Connection
from thywill.feed.feed import Batch
from thywill.feed.shared import Ready, next_of_one
from thywill.identity.tokens import ClientIdentity
from thywill.log.base import BaseLog
from thywill.types import ASGIApp, Receive, Scope, Send
from thywill.wire.frames import (
    KEEPALIVE_FRAME,
    close_code,
    error_frame,
    open_frame,
    refused_send_answer,
    sent_answer,
    sent_frame,
    shared_open_frame,
)
from thywill.wire.inbound import parse_auth_frame, parse_json, parse_messages
from thywill.wire.outbound import encode_batch, encode_client_batch
from thywill.wire.results import send_results
from thywill.wiring.runtime import get_runtime

logger = logging.getLogger(__name__)

RESTART_CLOSE = 1012
"""The close code of an open socket when the process stops (Service Restart)."""


def check_origin(headers: Mapping[str, str], scheme: str) -> None:
    """Accept the page's own origin and CSRF_TRUSTED_ORIGINS, as Django's CSRF check does.

    A browser always sends Origin with a WebSocket handshake; without this check any
    site could open a socket with the visitor's session cookie.

    Raises:
        RejectedError: ``bad_origin``.
    """
    origin = headers.get("origin")
    if not origin:
        raise RejectedError(ErrorCode.BAD_ORIGIN, "An Origin header is required.")
    own = f"{'https' if scheme == 'wss' else 'http'}://{headers.get('host', '')}"
    if origin == own or origin in settings.CSRF_TRUSTED_ORIGINS:
        return
    parsed = urlsplit(origin)
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        pattern = urlsplit(trusted)
        if (
            "*" in pattern.netloc
            and parsed.scheme == pattern.scheme
            and is_same_domain(parsed.netloc, pattern.netloc.lstrip("*"))
        ):
            return
    raise RejectedError(
        ErrorCode.BAD_ORIGIN, f"The origin {origin[:100]!r} may not open this socket."
    )


class WebsocketTransport(AsyncWebsocketConsumer):  # type: ignore[misc]
    """The WebSocket transport: a client's feed out, its sends in, one connection.

    A shared socket (its auth frame names ``tokens``) carries several clients of one
    browser session: the feeds of all, and the sends of each (a ``send`` frame names
    its ``client``).
    """

    identity: ClientIdentity | None = None
    """The client of a single-client socket, once its auth frame passed."""
    identities: tuple[ClientIdentity, ...] = ()
    """The clients of a shared socket, in the order of its tokens, once authenticated."""
    feed_task: asyncio.Task[None] | None = None
    auth_task: asyncio.Task[None] | None = None
    """Closes the socket when no auth frame came in time."""
    connection: Connection | None = None
    sent_in_batch = False
    """The client's auth frame asked for send answers inside batch frames."""
    pending_answer: str | None = None
    """A send frame's answer, left for one turn of the event loop for the feed's next
    batch frame to carry (``offer_answer``)."""
    closing = False
    closed = False
    counted = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The feed task and the send answers share the socket: one frame at a time.
        self.send_lock = asyncio.Lock()
        # What the handshake brought, for the auth frame's checks.
        self.cookies: Mapping[str, str] = {}
        self.cursor: str | None = None
        self.cursors: list[str] = []
        """Every ``cursor`` parameter, in order: a shared socket's, one per token."""
        self.clients: dict[str, int] = {}
        """A shared socket's client ids, to their index."""
        self.connections: list[Connection] = []
        """A shared socket's connections, one per client."""

    @property
    def path(self) -> str:
        return str(self.scope.get("path", ""))

    @property
    def log(self) -> BaseLog:
        return get_runtime().log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the connection: each ASGI message from the server handled in turn.

        Channels' own loop also listens on a channel layer, which this transport does
        not use (the push backend carries its messages), through a Task and an
        ``asyncio.wait`` per frame received; here each frame is received and handled in
        the connection's own task, which an idle socket's memory and every frame's CPU
        show.
        """
        self.scope = scope
        self.base_send = send
        with contextlib.suppress(StopConsumer):  # websocket.disconnect raises it
            while True:
                await self.dispatch(await receive())

    async def dispatch(self, message: Mapping[str, Any]) -> None:
        """Call the handler of an ASGI message.

        Channels' own dispatch first closes stale database connections, a thread hop per
        frame; here the sync code that uses the database does that in its own thread
        (``thywill.handlers.calling``).
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        """Accept, then check what needs no token; wait for the auth frame.

        A refusal is an error frame and a close code.
        """
        # Accepting first is what lets a browser see why it was refused: a handshake
        # refused with an HTTP status reaches the page as an anonymous close (1006).
        await self.accept()
        drain.enter(self.path)  # a SIGTERM waits for the socket to close
        self.counted = True
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in self.scope.get("headers", [])
        }
        pairs = parse_qsl(
            self.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
        )
        query = dict(pairs)
        try:
            require_enabled("websocket")
            if drain.draining:
                raise refusal()
            check_origin(headers, str(self.scope.get("scheme", "ws")))
            refuse_token_in_query(query)
        except RejectedError as error:
            await self.refuse(error)
            return
        self.cookies = parse_cookie(headers.get("cookie", ""))
        self.cursor = query.get("cursor")
        self.cursors = [value for name, value in pairs if name == "cursor"]
        self.auth_task = asyncio.create_task(
            self.expect_auth(conf.get_limits().auth_timeout)
        )

    async def expect_auth(self, bound: float) -> None:
        """Close the socket when its auth frame has not come within ``bound`` seconds:
        a socket that proves nothing holds nothing of the server's for long. A process
        that starts draining meanwhile refuses it at once (4503), as a new socket."""
        if await drain.unless_draining(asyncio.sleep(bound, result=True)) is None:
            await self.refuse(refusal())
            return
        await self.refuse(
            RejectedError(
                ErrorCode.AUTH_TIMEOUT,
                f"No auth frame within {bound:g} s of the connection; the first frame "
                'must be {"type": "auth", "token": ...}.',
            )
        )

    async def check_auth_frame(self, text_data: str | None) -> None:
        """Check the first frame, ``{"type": "auth", "token": T}``, and the token, the
        session and the cursor as every transport does; then ``open``, what is waiting,
        and the feed (``open_stream``). A refusal is an error frame and a close code.

        A frame ``{"type": "auth", "tokens": [...]}`` opens a shared socket: each token
        is checked so, with its cursor (the ``cursor`` parameters, in order)."""
        if self.auth_task is not None:
            self.auth_task.cancel()  # it came; disconnect() awaits the task
        try:
            auth = parse_auth_frame(
                text_data, max_bytes=conf.get_limits().max_message_bytes
            )
            if drain.draining:
                raise refusal()
            if isinstance(auth.token, list):
                await self.start_shared(auth.token)
                return
            identity = await authenticate(auth.token, self.cookies)
            feed = new_feed(identity, self.cursor)
            await feed.check_session()
            self.connection = open_connection(identity, "websocket")
        except RejectedError as error:
            await self.refuse(error)
            return
        except PushUnavailableError as exc:
            self.log.unavailable(exc, path=self.path)
            await self.close_with(RejectedError.unavailable())
            return
        self.identity = identity
        self.sent_in_batch = auth.sent_in_batch
        await self.run_feed(
            self.open_stream(
                open_frame(feed.cursor),
                functools.partial(next_of_one, feed),
                lambda _, batch: encode_batch(
                    batch, frame_type="batch", sent=self.take_answer()
                ),
            )
        )

    async def start_shared(self, tokens: list[object]) -> None:
        """Authenticate a shared socket's clients and open their stream: ``open`` with
        every client's cursor, then a ``batch`` frame (naming its client) per client
        that has something.

        Raises:
            RejectedError: as ``new_shared_feed`` and ``open_connections``.
            PushUnavailableError: the push backend cannot be reached.
        """
        shared = await new_shared_feed(tokens, self.cursors, self.cookies)
        self.connections = open_connections(shared.feeds, "websocket")
        self.identities = tuple(feed.identity for feed in shared.feeds)
        self.clients = {
            identity.client_id: index for index, identity in enumerate(self.identities)
        }
        await self.run_feed(
            self.open_stream(
                shared_open_frame([feed.cursor for feed in shared.feeds]),
                shared.next,
                lambda index, batch: encode_client_batch(
                    self.identities[index].client_id, batch, index=index, frame_type="batch"
                ),
            )
        )

    async def run_feed(self, body: Coroutine[Any, Any, None]) -> None:
        """Run a feed's stream; close the socket as its end requires."""
        try:
            await body
        except PushUnavailableError as exc:
            # The client reconnects with its cursor, after a backoff.
            self.log.unavailable(exc, path=self.path)
            await self.close_with(RejectedError.unavailable())
        except RejectedError as error:
            # The token expired, the session ended or the server ended the client.
            await self.refuse(error)
        except OSError:
            return  # the client went away: websocket.disconnect follows
        except Exception:
            # A bug, not the client's doing: say so once, and close rather than leave a
            # socket open with no feed behind it.
            clients = self.identity.client_id if self.identity else ",".join(self.clients)
            logger.exception("The WebSocket feed of client %s failed", clients)
            with contextlib.suppress(OSError):
                await self.close(code=1011)
            self.closed = True

    async def open_stream(
        self,
        opening: str,
        following: Callable[[float], Awaitable[Ready]],
        encode: Callable[[int, Batch], str],
    ) -> None:
        """Write ``opening`` and the batches the feed has now (a frame each, by
        ``encode``), then follow the feed in a task of its own.

        It runs in the auth frame's handler, so every frame the client sends after its
        auth frame is answered after ``open`` and the batches that were waiting. The
        feed is read before ``open``: while the push backend is down, the socket closes
        with 4503 without opening, and the client backs off.
        """
        budget = StreamBudget(conf.get_limits().max_stream_bytes)
        first = await following(0)
        await self.send_frame(opening)
        if await self.write_batches(first, encode, budget):
            await self.close_spent()
            return
        self.feed_task = asyncio.create_task(
            self.run_feed(self.follow(following, encode, budget))
        )

    async def follow(
        self,
        following: Callable[[float], Awaitable[Ready]],
        encode: Callable[[int, Batch], str],
        budget: StreamBudget,
    ) -> None:
        """Write each batch ``following`` returns, with a keepalive when it returns
        none, until the socket has carried its ``budget`` or the process stops."""
        keepalive = conf.get_limits().sse_keepalive
        while True:
            ready = await drain.unless_draining(following(keepalive))
            if ready is None:
                await self.close_for_restart()
                return
            if not ready:
                await self.send_frame(KEEPALIVE_FRAME)
            elif await self.write_batches(ready, encode, budget):
                await self.close_spent()
                return
            del ready  # an idle socket keeps nothing it has written while it waits

    async def write_batches(
        self, ready: Ready, encode: Callable[[int, Batch], str], budget: StreamBudget
    ) -> bool:
        """Write a frame per batch; return whether the socket has spent its budget
        (the batches after that are not written: the client reads them again from its
        cursor on the next socket)."""
        for index, batch in ready:
            frame = encode(index, batch)
            await self.send_frame(frame)
            count_delivered("websocket", batch)
            if budget.spend(frame):
                return True
        return False

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        """Handle one frame from the client; a malformed one closes the socket. The
        first is the auth frame."""
        if self.closing:
            return  # refused: the close is under way
        if self.identity is None and not self.identities:
            await self.check_auth_frame(text_data)
            return
        try:
            if text_data is None:
                raise RejectedError(
                    ErrorCode.BAD_FRAME, "Binary frames are not accepted; send JSON text."
                )
            frame = parse_json(
                text_data, max_bytes=conf.get_limits().max_message_bytes, what="frame"
            )
            kind = frame.get("type") if isinstance(frame, dict) else None
            if kind != "send":
                raise RejectedError(
                    ErrorCode.BAD_FRAME,
                    f"Unknown frame type {str(kind)[:50]!r}: a client sends only "
                    "JSON objects of type 'send'.",
                )
            identity, index = self.sender(frame)
        except RejectedError as error:
            await self.refuse(error)
            return
        answer = await self.handle_send(identity, frame, index)
        if answer is not None and self.sent_in_batch:
            answer = await self.offer_answer(answer)
        if answer is None:
            return
        try:
            await self.send_frame(sent_frame(answer))
        except OSError:
            return  # the client went away before its answer: it resends the same seqs

    async def offer_answer(self, answer: str) -> str | None:
        """Leave a send's answer for the feed's next batch frame, for one turn of the
        event loop; return it when the feed did not take it.

        A send that delivered something to this client (an echo, a reply) woke the
        feed, which runs in that turn and writes the answer and the delivery as one
        frame: one write instead of two. A send that delivered nothing here (or a feed
        that is busy writing) leaves the answer to a ``sent`` frame of its own. Either
        way it goes out before the next send frame is handled, so answers keep their
        order.
        """
        if self.feed_task is None:
            return answer
        self.pending_answer = answer
        await asyncio.sleep(0)
        return self.take_answer()

    def take_answer(self) -> str | None:
        """The answer ``offer_answer`` left, taken (None: none is waiting)."""
        answer, self.pending_answer = self.pending_answer, None
        return answer

    def sender(self, frame: dict[str, Any]) -> tuple[ClientIdentity, int | None]:
        """The client a ``send`` frame is of, and its index on a shared socket.

        A shared socket's frame names its client (``client``: one of the socket's);
        a single client's may name it too, its own id and no other.

        Raises:
            RejectedError: ``bad_frame``.
        """
        client = frame.get("client")
        if self.identity is not None:
            if client is None or client == self.identity.client_id:
                return self.identity, None
            raise RejectedError(
                ErrorCode.BAD_FRAME, "The send frame names a client not on this socket."
            )
        index = self.clients.get(client) if isinstance(client, str) else None
        if index is None:
            raise RejectedError(
                ErrorCode.BAD_FRAME,
                "A send frame of a shared socket names its 'client': one of the socket's.",
            )
        return self.identities[index], index

    async def handle_send(
        self, identity: ClientIdentity, frame: dict[str, Any], index: int | None = None
    ) -> str | None:
        """A ``send`` frame, handled as the HTTP send is; its answer (``sent_answer``
        or ``refused_send_answer``).

        Every send is checked as a POST to the send endpoint is: a socket of a session
        that ended is closed now (and None returned), not only when its feed next
        checks. ``index`` is the client's on a shared socket.
        """
        try:
            messages = parse_messages(
                frame.get("messages"), max_batch=conf.get_limits().max_batch
            )
            runtime = get_runtime()
            app = runtime.application_of(identity)
            results = await runtime.events.handle_messages(app, identity, messages)
        except RejectedError as error:
            metrics.sent("refused")
            if error.code is ErrorCode.SESSION_ENDED:
                await self.refuse(error if index is None else error.at(index))
                return None
            self.log.rejected(error, path=self.path, client_id=identity.client_id)
            return refused_send_answer(error)
        except PushUnavailableError as exc:
            self.log.unavailable(exc, path=self.path)
            metrics.sent("unavailable")
            return refused_send_answer(RejectedError.unavailable())
        return sent_answer(send_results(messages, results))

    async def refuse(self, error: RejectedError) -> None:
        """Log a refusal once, then send its error frame and close."""
        client_id = self.identity.client_id if self.identity is not None else None
        if error.index is not None and error.index < len(self.identities):
            client_id = self.identities[error.index].client_id
        self.log.rejected(error, path=self.path, client_id=client_id)
        await self.close_with(error)

    async def close_with(self, error: RejectedError) -> None:
        """Send the error frame, then close with the error's code and reason."""
        self.closing = True
        if self.feed_task is not None and self.feed_task is not asyncio.current_task():
            self.feed_task.cancel()
        try:
            await self.send_frame(error_frame(error))
            await self.close(code=close_code(error), reason=error.code.value)
        except OSError:
            return  # already gone
        finally:
            self.closed = True

    async def close_for_restart(self) -> None:
        """The process is stopping: close with 1012 (Service Restart), which the client
        takes as "reconnect", to another process or to this one restarted. Daphne's
        WebSocket library (autobahn) refuses to send any code below 3000 but 1000: there
        the close is 1000 (Normal Closure), which the client takes the same way."""
        self.closing = True
        async with self.send_lock:
            if self.closed:
                return
            self.closed = True
            try:
                await self.close(code=RESTART_CLOSE)
            except OSError:
                return  # already gone
            except Exception:  # noqa: BLE001  (autobahn raises a bare Exception)
                await self.close(code=1000)

    async def close_spent(self) -> None:
        """The socket carried its MAX_STREAM_BYTES: close it normally (1000), and the
        client reconnects from the cursor of the last batch it read."""
        self.closing = True
        async with self.send_lock:
            if self.closed:
                return
            self.closed = True
            with contextlib.suppress(Exception):  # each server raises its own kind
                await self.close(code=1000)

    async def send_frame(self, text: str) -> None:
        """Send one text frame (never two at once); nothing once the socket is closed,
        by either side.

        A send handled while the feed closed the socket (4503) still finishes; its
        answer is dropped here instead of being sent after the close.
        """
        async with self.send_lock:
            if self.closed:
                return
            try:
                await self.send(text_data=text)
            except Exception:  # noqa: BLE001  (each server raises its own kind)
                # The peer closed first: Daphne raises (autobahn's Disconnected), uvicorn
                # an OSError. The frame is dropped; websocket.disconnect follows and ends
                # the feed, which the client resumes from its cursor.
                self.closed = True

    async def disconnect(self, code: int) -> None:
        """Stop the feed when the connection is gone."""
        self.closed = True
        if self.connection is not None:
            self.connection.close()
        close_connections(self.connections)
        if self.counted:
            self.counted = False
            drain.leave(self.path)
        waiting, self.auth_task = self.auth_task, None
        if waiting is not None:
            waiting.cancel()
            await asyncio.wait([waiting])
        task, self.feed_task = self.feed_task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
            if not task.cancelled():
                task.result()  # a failure other than the client leaving is a bug: raise it


class WebsocketNotFound(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Any other WebSocket path: closed with 4404 ``not_found``, as HTTP answers 404."""

    async def connect(self) -> None:
        """Accept, then refuse with an error frame and a close code."""
        path = str(self.scope.get("path", ""))
        error = RejectedError(ErrorCode.NOT_FOUND, f"Nothing is at {path}.")
        get_runtime().log.rejected(error, path=path)
        await self.accept()
        await self.send(text_data=error_frame(error))
        await self.close(code=close_code(error), reason=error.code.value)


class WebsocketRouter:
    """The ASGI application of the ``websocket`` protocol: thywill's transport at the URL
    named ``thywill:websocket`` (wherever the project's URLconf includes thywill), the
    project's own WebSocket application at any other path.

    Args:
        fallback: the project's WebSocket application; without one, any other path is
            refused with 4404 ``not_found``.
    """

    def __init__(self, fallback: ASGIApp | None = None) -> None:
        self.transport = WebsocketTransport.as_asgi()
        self.fallback = fallback or WebsocketNotFound.as_asgi()
        self._path: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        drain.install()  # Daphne sends no lifespan: the first connection does it
        get_runtime().ensure_background()  # the applications' (the inspector's)
        if self._path is None:
            self._path = route_path("thywill:websocket")
        path_info = scope["path"].removeprefix(scope.get("root_path", ""))
        app = self.transport if path_info == self._path else self.fallback
        await app(scope, receive, send)
