"""The transport endpoints served straight from ASGI, around Django's request handler.

Send, long-poll and SSE are plain async views (``views/send.py``,
``views/longpoll.py``, ``views/sse.py``). Served through Django's ASGI handler,
every request to them would also pay for what they never use: the middleware chain
(sessions, authentication, messages...), of which every ``MiddlewareMixin`` runs in a
thread, the ``request_started``/``request_finished`` signals, a thread per request and a
disconnect-watching task. That was most of the CPU time of a send
(documentation/performance.md). What they do need, they do themselves: the token proves
the client without the session store, the send view checks CSRF with Django's own
``csrf_protect``, the Host header is validated here, and sync user code closes stale
database connections in its own thread (``thywill.handlers.calling``).

``DirectEndpoints`` wraps the Django ASGI application: a request for one of those paths
becomes a Django ``HttpRequest`` as usual and its view runs unchanged; anything else goes
to Django. The URLconf still lists the views, for ``reverse()`` and Django's test client.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TypeAlias, TypeVar, cast

from asgiref.sync import sync_to_async
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest, get_script_prefix
from django.core.handlers.exception import response_for_exception
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.middleware.security import SecurityMiddleware
from django.urls import reverse, set_script_prefix
from django.urls.base import get_script_prefix as current_script_prefix

from thywill import conf
from thywill.edge.errors import error_response
from thywill.edge.headers import host_headers
from thywill.edge.passed import PassedChecks
from thywill.edge.shutdown import drain
from thywill.edge.views.longpoll import longpoll
from thywill.edge.views.send import send as send_view
from thywill.edge.views.sse import sse
from thywill.exceptions import ClientGone, ErrorCode, RejectedError
from thywill.types import ASGIApp, Message, Receive, Scope, Send
from thywill.wiring.runtime import get_runtime

View: TypeAlias = Callable[[HttpRequest], Awaitable[HttpResponseBase]]
T = TypeVar("T")

PASSED_HOSTS_SIZE = 1024
"""The most Host headers remembered as allowed (a deployment serves a few)."""


class DirectEndpoints:
    """ASGI application: thywill's transport endpoints directly, the rest through Django.

    Args:
        django: the application that serves every other request.
    """

    def __init__(self, django: ASGIApp) -> None:
        self.django = django
        # Django's security headers (nosniff, referrer policy, HSTS...) and HTTPS
        # redirect, as on every other answer of the site; it is only asked to process
        # requests and responses.
        self.security = SecurityMiddleware(lambda request: HttpResponse())
        self._routes: dict[str, tuple[View, bool]] | None = None
        self.allowed_hosts = PassedChecks(PASSED_HOSTS_SIZE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        drain.install()  # Daphne sends no lifespan: the first request does it
        get_runtime().ensure_background()  # the applications' (the inspector's)
        if scope["type"] == "http":
            path_info = scope["path"].removeprefix(scope.get("root_path", ""))
            route = self.routes().get(path_info)
            if route is not None:
                view, watch_disconnect = route
                async with drain.request(path_info):  # a SIGTERM waits for it to end
                    await self.serve(
                        view, scope, receive, send, watch_disconnect=watch_disconnect
                    )
                return
        await self.django(scope, receive, send)

    def routes(self) -> dict[str, tuple[View, bool]]:
        """The directly served views by path, from the URLconf (read once, on first use),
        each with whether a disconnect cancels it: not a send, which must finish what
        it started whether or not its answer can still be delivered."""
        if self._routes is None:
            self._routes = {
                route_path("thywill:send"): (send_view, False),
                route_path("thywill:longpoll"): (longpoll, True),
                route_path("thywill:sse"): (sse, True),
            }
        return self._routes

    async def serve(
        self,
        view: View,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        watch_disconnect: bool,
    ) -> None:
        """Answer one request with ``view`` as Django's handler would, sans middleware."""
        # The request is gone once the response is made: a stream that is open for
        # hours keeps only what it streams.
        response = await self.response_to(view, scope, receive, watch_disconnect)
        if response is None:
            return  # the client left first
        # Not response.close(): it would send Django's request_finished signal here, on
        # the event loop. These responses hold nothing to close; a stream's generator is
        # closed by stream_response.
        if isinstance(response, StreamingHttpResponse):
            await stream_response(response, receive, send)
        else:
            await send_response(response, send)

    async def response_to(
        self, view: View, scope: Scope, receive: Receive, watch_disconnect: bool
    ) -> HttpResponseBase | None:
        """The request's response, ``None`` when the client left before it was made."""
        try:
            body = await read_body(receive, conf.get_limits().max_message_bytes + 1)
        except ClientGone:
            return None
        set_script_prefix(get_script_prefix(scope))
        request = ASGIRequest(scope, io.BytesIO(body))
        response = await self.respond(view, request, receive if watch_disconnect else None)
        if response is None:
            return None  # the client left while the view waited
        return self.security.process_response(request, cast(HttpResponse, response))

    async def respond(
        self, view: View, request: HttpRequest, receive: Receive | None
    ) -> HttpResponseBase | None:
        """The view's response: after the checks of Django's middleware these views rely
        on, and cancelled (``None``) if the client disconnects first, when ``receive`` is
        given."""
        try:
            self.check_host(request)
        except DisallowedHost:
            host = request.META.get("HTTP_HOST", "")
            error = RejectedError(
                ErrorCode.BAD_HOST, f"The host {host[:100]!r} is not served."
            )
            return error_response(request, error)
        redirect = self.security.process_request(request)  # SECURE_SSL_REDIRECT
        if redirect is not None:
            return redirect
        try:
            if receive is None:
                return await view(request)
            return await until_disconnect(view(request), receive)
        except Exception as exc:  # noqa: BLE001  (a bug: logged and answered as Django would)
            return await sync_to_async(response_for_exception, thread_sensitive=False)(
                request, exc
            )

    def check_host(self, request: HttpRequest) -> None:
        """What Django's CommonMiddleware checks, ALLOWED_HOSTS, by ``get_host()``;
        once it passed, the same headers pass again without it.

        Raises:
            DisallowedHost: the host is not allowed.
        """
        key = host_headers(request)
        if key not in self.allowed_hosts:
            request.get_host()
            self.allowed_hosts.add(key)


def route_path(name: str) -> str:
    """The path of one of thywill's URLs as ASGI's ``path`` has it without ``root_path``:
    what the URLconf resolves, without the script prefix."""
    return "/" + reverse(name).removeprefix(current_script_prefix())


async def until_disconnect(answer: Awaitable[T], receive: Receive) -> T | None:
    """``answer``'s result, or ``None`` once the client disconnects (``answer`` is then
    cancelled, as Django's handler cancels a view whose client left)."""
    task = asyncio.ensure_future(answer)
    watcher: asyncio.Future[None] | None = None
    try:
        # A long-poll with messages waiting answers in the task's first step: only a
        # view that waits needs the watcher (a second task and its wait).
        await asyncio.sleep(0)
        if not task.done():
            watcher = asyncio.ensure_future(disconnected(receive))
            await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if watcher is not None:
            watcher.cancel()
        if not task.done():
            task.cancel()
        unfinished = [f for f in (task, watcher) if f is not None and not f.done()]
        if unfinished:
            await asyncio.wait(unfinished)
    if watcher is not None and not watcher.cancelled():
        watcher.exception()  # retrieved: a receive that failed means the client is gone
    if task.cancelled():
        return None
    return task.result()


async def disconnected(receive: Receive) -> None:
    """Return once the client has disconnected."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def read_body(receive: Receive, limit: int) -> bytes:
    """The request body, or its first ``limit`` bytes when it is longer.

    The views refuse a body over their limit, so reading further would only buffer what
    is thrown away.

    Raises:
        ClientGone: the client disconnected first.
    """
    chunks, size = [], 0
    while size < limit:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)[:limit]


def response_start(response: HttpResponseBase) -> Message:
    """The ``http.response.start`` message of a response, its cookies included."""
    headers = [
        (name.encode("ascii"), value.encode("latin-1")) for name, value in response.items()
    ]
    headers.extend(
        (b"Set-Cookie", cookie.output(header="").encode("ascii").strip())
        for cookie in response.cookies.values()
    )
    return {
        "type": "http.response.start",
        "status": response.status_code,
        "headers": headers,
    }


async def send_response(response: HttpResponseBase, send: Send) -> None:
    """Send a complete response in one body message."""
    await send(response_start(response))
    await send({"type": "http.response.body", "body": response.content})  # type: ignore[attr-defined]


async def stream_response(
    response: StreamingHttpResponse, receive: Receive, send: Send
) -> None:
    """Send a streaming response until it ends or the client disconnects; a failure
    other than the connection's is a bug, and raises for the server to log."""

    async def write() -> None:
        await send(response_start(response))
        # Django's __aiter__ is an async generator; closing it closes the view's stream.
        chunks = cast(AsyncGenerator[bytes, None], aiter(response))
        async with contextlib.aclosing(chunks) as content:
            async for chunk in content:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body"})

    try:
        await until_disconnect(write(), receive)
    except OSError:
        return  # the connection broke while writing: the client is gone
