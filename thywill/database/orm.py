"""The database component on Django's ORM (SQLite by default, MySQL in production)."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core import checks
from django.core.checks import CheckMessage

from thywill.database.base import BaseDatabase
from thywill.identity.tokens import ClientIdentity, session_hash
from thywill.models import Client

ENDED_AT_ONCE = 10
"""The most clients beyond the limit one issue finds: the one it pushed out, and a few
more when page loads of one session raced."""


class OrmDatabase(BaseDatabase):
    """Client records in the ``Client`` model, on one of Django's DATABASES.

    Args:
        alias: the key of ``settings.DATABASES`` to use.
    """

    def __init__(self, *, alias: str = "default") -> None:
        self.alias = alias

    async def record_client(self, identity: ClientIdentity, session_key: str) -> None:
        await Client.objects.using(self.alias).acreate(
            id=identity.client_id,
            application=identity.application,
            session_key=session_key,
            user_id=identity.user_id,
        )

    async def find_client(self, client_id: str) -> ClientIdentity | None:
        client = await Client.objects.using(self.alias).filter(id=client_id).afirst()
        if client is None:
            return None
        return ClientIdentity(
            client_id=client.id,
            application=client.application,
            session_hash=session_hash(client.session_key),
            user_id=None if client.user_id is None else str(client.user_id),
        )

    async def clients_beyond(self, session_key: str, keep: int) -> list[ClientIdentity]:
        rows = (
            Client.objects.using(self.alias)
            .filter(session_key=session_key)
            .order_by("-created_at", "-id")[keep : keep + ENDED_AT_ONCE]
        )
        return [
            ClientIdentity(
                client_id=client.id,
                application=client.application,
                session_hash=session_hash(client.session_key),
                user_id=None if client.user_id is None else str(client.user_id),
            )
            async for client in rows
        ]

    async def purge_clients(self, issued_before: float) -> int:
        before = datetime.datetime.fromtimestamp(issued_before, tz=datetime.UTC)
        if not settings.USE_TZ:
            before = before.astimezone().replace(tzinfo=None)  # naive local time
        deleted, _ = (
            await Client.objects.using(self.alias).filter(created_at__lt=before).adelete()
        )
        return deleted

    def check(self) -> list[CheckMessage]:
        if self.alias not in settings.DATABASES:
            return [
                checks.Error(
                    f"THYWILL_COMPONENTS['database'] uses database alias "
                    f"{self.alias!r}, which is not in DATABASES.",
                    id="thywill.E009",
                )
            ]
        return []
