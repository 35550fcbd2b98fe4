"""The transport endpoints served directly from ASGI (thywill/edge/direct.py), driven
with ASGI messages as a server would."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from tests.support.asgi import http_scope
from thywill.edge.direct import DirectEndpoints, until_disconnect
from thywill.handlers.calling import with_fresh_connections
from thywill.models import Client

PROMPTLY = 2.0


def endpoints() -> DirectEndpoints:
    async def django(scope, receive, send):
        raise AssertionError("the view is served directly, not through Django")

    return DirectEndpoints(django)


async def test_a_view_waiting_for_a_client_that_left_is_cancelled():
    """A long-poll whose client disconnects stops waiting, as under Django's handler."""
    messages = [{"type": "http.request", "body": b""}]
    left = asyncio.Event()
    cancelled = asyncio.Event()
    sent: list[dict] = []

    async def receive() -> dict:
        if messages:
            return messages.pop(0)
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    async def waits_forever(request: HttpRequest) -> HttpResponseBase:
        try:
            await asyncio.sleep(3600)
        finally:
            cancelled.set()
        return HttpResponse()

    serving = asyncio.create_task(
        endpoints().serve(
            waits_forever,
            http_scope("/thywill/longpoll/"),
            receive,
            send,
            watch_disconnect=True,
        )
    )
    await asyncio.sleep(0.05)
    left.set()
    async with asyncio.timeout(PROMPTLY):
        await serving
    assert cancelled.is_set()
    assert sent == []


async def test_a_send_finishes_even_if_its_client_left():
    """A send is never cancelled: what it started (handling, recording) completes."""
    disconnected = [{"type": "http.request", "body": b""}, {"type": "http.disconnect"}]
    sent: list[dict] = []
    finished = asyncio.Event()

    async def receive() -> dict:
        return disconnected.pop(0) if disconnected else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    async def slow_send(request: HttpRequest) -> HttpResponseBase:
        await asyncio.sleep(0.1)
        finished.set()
        return HttpResponse(b"done")

    async with asyncio.timeout(PROMPTLY):
        await endpoints().serve(
            slow_send, http_scope("/thywill/send/"), receive, send, watch_disconnect=False
        )
    assert finished.is_set()
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


@pytest.mark.django_db
def test_sync_calls_inside_a_transaction_keep_its_connection():
    """Stale-connection cleanup around sync user code never closes a connection in the
    middle of a transaction (the caller's, or a test's)."""
    with transaction.atomic():
        Client.objects.count()
        with_fresh_connections(lambda: None)()
        assert connection.connection is not None
        Client.objects.count()


async def test_the_disconnect_cancels_only_the_answer():
    """The caller of ``until_disconnect`` goes on uncancelled once its client left; a
    caller cancelled by someone else as well stays cancelled."""
    left = asyncio.Event()

    async def receive() -> dict:
        await left.wait()
        return {"type": "http.disconnect"}

    async def serving() -> tuple[object, int]:
        result = await until_disconnect(asyncio.sleep(3600), receive)
        current = asyncio.current_task()
        assert current is not None
        await asyncio.sleep(0)  # not cancelled any more: it can still answer
        return result, current.cancelling()

    answering = asyncio.ensure_future(serving())
    await asyncio.sleep(0.01)
    left.set()
    async with asyncio.timeout(PROMPTLY):
        assert await answering == (None, 0)

    left.clear()
    stopped = asyncio.ensure_future(until_disconnect(asyncio.sleep(3600), receive))
    await asyncio.sleep(0.01)
    left.set()
    stopped.cancel()  # the server stops too
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(PROMPTLY):
            await stopped


def request_to(host: bytes) -> ASGIRequest:
    scope = {**http_scope("/thywill/longpoll/"), "headers": [(b"host", host)]}
    return ASGIRequest(scope, io.BytesIO(b""))


async def test_an_allowed_host_is_remembered_and_a_refused_one_never(settings):
    """The Host check (ALLOWED_HOSTS) passes the headers of a host it allowed again
    without checking; a host not served is refused every time, and a setting change
    forgets what was allowed."""
    settings.ALLOWED_HOSTS = ["testserver"]
    direct = endpoints()

    async def ok(request: HttpRequest) -> HttpResponseBase:
        return HttpResponse("ok")

    async def status(host: bytes) -> tuple[int, str | None]:
        response = await direct.respond(ok, request_to(host), None)
        assert response is not None
        if response.status_code == 200:
            return 200, None
        return response.status_code, json.loads(response.content)["error"]["code"]

    assert await status(b"testserver") == (200, None)
    assert len(direct.allowed_hosts) == 1
    for _ in range(2):
        assert await status(b"evil.example") == (400, "bad_host")
        assert await status(b"testserver") == (200, None)
    assert len(direct.allowed_hosts) == 1
    settings.ALLOWED_HOSTS = ["other.example"]
    assert len(direct.allowed_hosts) == 0
    assert await status(b"testserver") == (400, "bad_host")


async def test_an_answer_ready_at_once_is_not_watched():
    """A view that answers in its first step (a long-poll with messages waiting) is not
    given a disconnect watcher: nothing reads the connection."""
    received = 0

    async def receive() -> dict:
        nonlocal received
        received += 1
        return {"type": "http.disconnect"}

    async def ready() -> str:
        return "answer"

    async with asyncio.timeout(PROMPTLY):
        assert await until_disconnect(ready(), receive) == "answer"
    assert received == 0


async def test_an_answer_that_waits_is_watched():
    """A view that waits is cancelled when its client leaves while it waits."""

    async def receive() -> dict:
        return {"type": "http.disconnect"}

    async def waits() -> str:
        await asyncio.sleep(3600)
        return "never"

    async with asyncio.timeout(PROMPTLY):
        assert await until_disconnect(waits(), receive) is None
