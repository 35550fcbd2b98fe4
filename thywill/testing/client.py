"""A client of an application in the test's own process, speaking thywill's protocol.

It does what a browser tab running ``thywill.js`` does, through Django's ``AsyncClient``
and thywill's real endpoints: it loads the application's page (which creates the client
and runs ``on_connect``), reads the configuration the page carries, POSTs messages to the
send endpoint with the CSRF header, and reads what is pushed to it from the long-poll
endpoint. Nothing is mocked: the pipeline, the hook scripts, the handlers' transactions
and the push backend all run as they do on a server.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django.test import AsyncClient
from django.urls import reverse

from thywill.edge.feeds import TOKEN_HEADER
from thywill.identity.tokens import ClientIdentity, identify
from thywill.types import JSON
from thywill.wiring.runtime import get_runtime

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

T = TypeVar("T")

CONFIG_SCRIPT = re.compile(
    r'<script id="thywill-config" type="application/json">(.*?)</script>', re.S
)
"""The page's configuration, as ``json_script`` writes it (nothing in it can end it)."""

POLL_INTERVAL = 0.01
"""Seconds between two reads of a client that waits for a message."""

UNCOMPARABLE = frozenset({"seq", "traceId"})
"""A send result's entries that differ on every call: left out of what send() returns."""


class TestClient:
    """One client of an application (a browser tab), connected by ``connect()``.

    Attributes:
        config: the configuration the page gave the client (``thywill.config`` in the
            browser): ``clientId``, ``token``, ``endpoints``, ``limits``, ``app``...
        http: the Django ``AsyncClient`` it speaks through, with its cookies (its
            session): for the project's own views, as the same browser.
    """

    __test__ = False  # not a test class, whatever pytest makes of its name

    def __init__(self, http: AsyncClient, config: dict[str, Any]) -> None:
        self.http = http
        self.config = config
        self._seq = 0
        self._cursor: str = config["cursor"]
        self._arrived: list[JSON] = []
        self._sending = asyncio.Lock()  # one send at a time, in order, as thywill.js
        self._disconnected = False

    def __repr__(self) -> str:
        return f"<TestClient {self.client_id} of {self.application!r}>"

    @property
    def client_id(self) -> str:
        """The client's id: what ``ctx.client_id`` is in its events."""
        client_id: str = self.config["clientId"]
        return client_id

    @property
    def application(self) -> str:
        """The name of the client's application."""
        name: str = self.config["application"]
        return name

    @property
    def session_hash(self) -> str:
        """The keyed hash of the client's browser session: ``model.session_hash`` in
        hook scripts; tabs of one browser share it."""
        return self._identity().session_hash

    async def send(self, data: JSON) -> dict[str, JSON]:
        """Send one message, as ``thywill.send(data)`` does; return its result.

        The result is the send endpoint's result entry without its ``seq`` and its
        ``traceId`` (random per event, so that results compare equal):
        ``{"status": "ok"}``, ``{"status": "failed", "code": ..., "reason": ...}`` (a
        ``fail()``) or ``{"status": "error", "reason": ...}`` (a handler that raised).
        What the handler sent is in the push backend when this returns.

        Raises:
            AssertionError: the endpoint refused the request as a whole (a 4xx or 503),
                or the client is disconnected.
        """
        self._check_connected()
        async with self._sending:
            self._seq += 1
            body = {
                "token": self.config["token"],
                "messages": [{"seq": self._seq, "data": data}],
            }
            response = await self.http.post(
                self.config["endpoints"]["send"],
                json.dumps(body),
                content_type="application/json",
                headers={"X-CSRFToken": self.config["csrfToken"]},
            )
            answer = _answer(response.status_code, response.content, "send")
            [result] = answer["results"]
        return {key: value for key, value in result.items() if key not in UNCOMPARABLE}

    async def receive(self, timeout: float = 0.0) -> list[JSON]:
        """The data of every message pushed to the client since the last ``receive()``,
        in the order it read them.

        Messages of one channel (the client's own, or one group's) are in the order
        they were sent; messages of different channels may interleave differently.
        When nothing has arrived, it waits up to ``timeout`` seconds for something to,
        and returns ``[]`` if nothing does. What a ``send()`` (of any client) caused has
        arrived when the send returns, so the default, no wait, is usually right.

        Raises:
            AssertionError: the long-poll endpoint refused the read, history was lost
                (a reset: the client cannot tell what it missed), or the client is
                disconnected.
        """
        self._check_connected()
        await self._until(lambda: True if self._arrived else None, timeout)
        arrived, self._arrived = self._arrived, []
        return arrived

    async def receive_one(self, type: str | None = None, *, timeout: float = 1.0) -> JSON:
        """The first message not yet received, or the first whose data is an object of
        that ``type``, waiting up to ``timeout`` seconds for it to arrive.

        The messages before it stay for the next ``receive()``.

        Raises:
            AssertionError: none arrived in time (the message lists what did), or as
                ``receive()``.
        """
        self._check_connected()

        def first() -> int | None:
            for index, data in enumerate(self._arrived):
                if type is None or (isinstance(data, dict) and data.get("type") == type):
                    return index
            return None

        index = await self._until(first, timeout)
        if index is None:
            wanted = "message" if type is None else f"message of type {type!r}"
            raise AssertionError(
                f"{self!r}: no {wanted} arrived within {timeout} s; "
                f"arrived and not received yet: {self._arrived!r}"
            )
        return self._arrived.pop(index)

    async def disconnect(self) -> None:
        """Close the client now, as a tab that is gone: its disconnect event runs
        (``on_disconnect``, then it leaves each of its groups) before this returns.

        It takes the path of a lapsed presence lease, without waiting for the lease:
        the lease lapses at once and this process sweeps it. The client can do nothing
        more afterwards.

        Raises:
            AssertionError: the client is disconnected already.
        """
        self._check_connected()
        self._disconnected = True
        await get_runtime().presence.end(self._identity())

    def _identity(self) -> ClientIdentity:
        """The identity the client's token proves, checked as every endpoint checks it."""
        cookies = {name: morsel.value for name, morsel in self.http.cookies.items()}
        return identify(self.config["token"], cookies)

    async def _until(self, found: Callable[[], T | None], timeout: float) -> T | None:
        """Read what was delivered until ``found()`` is not None or ``timeout`` seconds
        passed; ``found()``'s last answer."""
        deadline = time.monotonic() + timeout
        while True:
            await self._read_all()
            result = found()
            if result is not None or time.monotonic() >= deadline:
                return result
            await asyncio.sleep(POLL_INTERVAL)

    async def _read_all(self) -> None:
        """Read from the long-poll endpoint, without waiting, until nothing is left."""
        while True:
            response = await self.http.get(
                self.config["endpoints"]["longpoll"],
                {"cursor": self._cursor, "wait": "0"},
                headers={TOKEN_HEADER: self.config["token"]},
            )
            answer = _answer(response.status_code, response.content, "long-poll")
            if answer["reset"] is not None:
                raise AssertionError(
                    f"{self!r} lost history (a reset): {answer['reset']!r}; received "
                    f"after it: {[m['data'] for m in answer['messages']]!r}"
                )
            self._cursor = answer["cursor"]
            if not answer["messages"]:
                return
            self._arrived.extend(message["data"] for message in answer["messages"])

    def _check_connected(self) -> None:
        if self._disconnected:
            raise AssertionError(f"{self!r} is disconnected")


async def connect(
    application: str | None = None,
    *,
    user: AbstractBaseUser | None = None,
    http: AsyncClient | None = None,
) -> TestClient:
    """Connect a new client to ``application`` (the default application when None), as a
    browser loading its page does: ``on_connect`` runs, and the client holds a presence
    lease.

    The page loads in ``http``, a Django ``AsyncClient`` standing for the browser: by
    default a new one (a browser of its own, so a session of its own); another
    client's ``http`` opens a second tab of that browser (a reload, say), in its
    session. ``user`` (a saved user) is logged in first, with ``force_login``:
    ``ctx.user_id`` is then its primary key. Logging in changes the browser's session,
    so the tabs it had open before are refused from then on, as in a browser.

    Raises:
        AssertionError: the page or the client's first request was refused (a
            ``fail()`` in the connect event answers ``403 refused``; an unknown
            application ``404``).
    """
    if http is None:
        http = AsyncClient(enforce_csrf_checks=True)  # the send endpoint checks CSRF
    if user is not None:
        # The stubs take the user model of the settings mypy reads; any one will do.
        await http.aforce_login(user)  # type: ignore[arg-type]
    if application is None:
        path = reverse("thywill:init")
    else:
        path = reverse("thywill:app-init", args=[application])
    response = await http.get(path)
    if response.status_code != 200:
        raise AssertionError(
            f"The page of {application!r} answered {response.status_code}: "
            f"{response.content.decode(errors='replace')}"
        )
    [config] = CONFIG_SCRIPT.findall(response.content.decode())
    client = TestClient(http, json.loads(config))
    if client.config.get("resume"):
        # Issued pending (THYWILL_RESUME): its first request runs on_connect, as a
        # browser's first connection does.
        await client._read_all()
    return client


def _answer(status: int, content: bytes, endpoint: str) -> dict[str, Any]:
    """The JSON body of an endpoint's 200 answer.

    Raises:
        AssertionError: the answer is not a 200, with what it was.
    """
    if status != 200:
        raise AssertionError(
            f"The {endpoint} endpoint answered {status}: {content.decode(errors='replace')}"
        )
    answer: dict[str, Any] = json.loads(content)
    return answer
