"""The sync twin of the test client, for ``django.test.TransactionTestCase`` and other
sync tests: each call runs the async one to completion (``async_to_sync``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from django.test import AsyncClient

from thywill.testing.client import TestClient, connect
from thywill.types import JSON

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser


class SyncTestClient:
    """A ``TestClient`` with sync methods; see it for what each does.

    Call it from sync code only (a test method, not a coroutine): ``async_to_sync``
    refuses to run inside an event loop.
    """

    __test__ = False  # not a test class, whatever pytest makes of its name

    def __init__(self, client: TestClient) -> None:
        self.client = client
        """The async client it drives."""

    def __repr__(self) -> str:
        return f"<SyncTestClient {self.client_id} of {self.application!r}>"

    @property
    def config(self) -> dict[str, Any]:
        """The configuration the page gave the client."""
        return self.client.config

    @property
    def http(self) -> AsyncClient:
        """The Django ``AsyncClient`` the client speaks through, with its session."""
        return self.client.http

    @property
    def client_id(self) -> str:
        """The client's id: what ``ctx.client_id`` is in its events."""
        return self.client.client_id

    @property
    def application(self) -> str:
        """The name of the client's application."""
        return self.client.application

    @property
    def session_hash(self) -> str:
        """The keyed hash of the client's browser session (``model.session_hash``)."""
        return self.client.session_hash

    def send(self, data: JSON) -> dict[str, JSON]:
        """``TestClient.send()``: send one message, return its result without ``seq``."""
        return async_to_sync(self.client.send)(data)

    def receive(self, timeout: float = 0.0) -> list[JSON]:
        """``TestClient.receive()``: the data of every message pushed since the last."""
        return async_to_sync(self.client.receive)(timeout)

    def receive_one(self, type: str | None = None, *, timeout: float = 1.0) -> JSON:
        """``TestClient.receive_one()``: the first (matching) message, waited for."""
        return async_to_sync(self.client.receive_one)(type, timeout=timeout)

    def disconnect(self) -> None:
        """``TestClient.disconnect()``: close the client; its disconnect event runs."""
        async_to_sync(self.client.disconnect)()


def connect_sync(
    application: str | None = None,
    *,
    user: AbstractBaseUser | None = None,
    http: AsyncClient | None = None,
) -> SyncTestClient:
    """``connect()`` for sync code: a new client of ``application``."""
    return SyncTestClient(async_to_sync(connect)(application, user=user, http=http))
