"""The deployment self-test's WebSocket: an echo at ``<prefix>/websocket/selftest/``.

The self-test page (``thywill.edge.views.selftest``) opens it to learn whether WebSocket
upgrades get through the proxy, and again with ``?idle=N`` to learn whether a silent
socket survives N seconds. It is no transport: it needs no client token and touches no
client, but a staff user's session cookie (read by Channels' session and auth
middleware), and the page's own Origin, as the transport checks it. It echoes at most
``MAX_FRAMES`` text frames of at most ``MAX_FRAME_BYTES`` each and closes itself after
``idle`` seconds plus ``LIFETIME`` (``idle`` at most SELFTEST_MAX_HOLD).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import parse_qsl

from channels.auth import AuthMiddlewareStack
from channels.generic.websocket import AsyncWebsocketConsumer
from django.http import QueryDict

from thywill import conf
from thywill.edge.direct import route_path
from thywill.edge.shutdown import drain
from thywill.edge.views.selftest import now_ms, seconds
from thywill.edge.websocket import check_origin
from thywill.exceptions import ErrorCode, RejectedError
from thywill.types import ASGIApp, Receive, Scope, Send
from thywill.wire.frames import close_code, error_frame
from thywill.wiring.runtime import get_runtime

MAX_FRAMES = 10
MAX_FRAME_BYTES = 1024
LIFETIME = 10.0
"""How long the socket stays open beyond its idle time, in seconds."""


class SelfTestSocket(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Accept, check, send ``open``; echo text frames as ``echo``; after ``idle``
    seconds of silence (when asked) send ``idle``; close after the socket's lifetime."""

    timer: asyncio.Task[None] | None = None
    frames = 0
    ready = False

    async def connect(self) -> None:
        """Accept, then refuse (an error frame and a close code) or open."""
        # As the transport does: a browser sees why it was refused only on an open socket.
        await self.accept()
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in self.scope.get("headers", [])
        }
        query = QueryDict(mutable=True)
        for key, value in parse_qsl(self.scope.get("query_string", b"").decode("latin-1")):
            query.appendlist(key, value)
        try:
            if not conf.get_selftest():
                raise RejectedError(ErrorCode.NOT_FOUND, f"Nothing is at {self.path}.")
            check_origin(headers, str(self.scope.get("scheme", "ws")))
            user = self.scope.get("user")
            if user is None or not (user.is_active and user.is_staff):
                raise RejectedError(
                    ErrorCode.REFUSED, "The self-test is for staff users: log in as one."
                )
            idle = seconds(query, "idle", 0.0, cap=conf.SELFTEST_MAX_HOLD)
        except RejectedError as error:
            get_runtime().log.rejected(error, path=self.path)
            await self.send(text_data=error_frame(error))
            await self.close(code=close_code(error), reason=error.code.value)
            return
        self.ready = True
        await self.send(text_data=json.dumps({"type": "open", "now": now_ms()}))
        self.timer = asyncio.create_task(self.run(idle))

    @property
    def path(self) -> str:
        return str(self.scope.get("path", ""))

    async def run(self, idle: float) -> None:
        """Say ``idle`` after ``idle`` seconds (if asked), then close after LIFETIME;
        at once when the process stops."""
        try:
            if idle:
                if await drain.unless_draining(asyncio.sleep(idle, result=True)) is None:
                    await self.close(code=1000)
                    return
                await self.send(text_data=json.dumps({"type": "idle", "now": now_ms()}))
            await drain.unless_draining(asyncio.sleep(LIFETIME))
            await self.close(code=1000)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001  (each server raises its own kind)
            return  # the browser closed first: websocket.disconnect follows

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        """Echo a short text frame; anything else, or too many, closes the socket."""
        if not self.ready:
            return
        self.frames += 1
        if (
            text_data is None
            or len(text_data.encode()) > MAX_FRAME_BYTES
            or self.frames > MAX_FRAMES
        ):
            await self.close(code=1008)  # policy violation: this is not what it is for
            return
        echo = {"type": "echo", "data": text_data, "now": now_ms()}
        await self.send(text_data=json.dumps(echo))

    async def disconnect(self, code: int) -> None:
        """Stop the timer when the socket is gone."""
        self.ready = False
        task, self.timer = self.timer, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class SelfTestSockets:
    """The ASGI ``websocket`` application in front of ``inner``: the self-test's socket
    at the URL named ``thywill:selftest-websocket``, everything else to ``inner``.

    Args:
        inner: the application of every other WebSocket path (``WebsocketRouter``).
    """

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner
        self.bare = SelfTestSocket.as_asgi()
        # Loads the session and its user into the scope (a database read), only when
        # the self-test is on.
        self.authenticated = AuthMiddlewareStack(self.bare)
        self._path: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._path is None:
            self._path = route_path("thywill:selftest-websocket")
        path_info = scope["path"].removeprefix(scope.get("root_path", ""))
        if path_info != self._path:
            await self.inner(scope, receive, send)
            return
        drain.install()  # Daphne sends no lifespan: the first connection does it
        app: Any = self.authenticated if conf.get_selftest() else self.bare
        await app(scope, receive, send)
