"""The database component contract."""

from __future__ import annotations

from django.core.checks import CheckMessage

from thywill.identity.tokens import ClientIdentity


class BaseDatabase:
    """Base class of database components.

    The database holds durable records (clients, and whatever applications keep in their
    own models). It is never used on the hot paths: send, poll and stream work from the
    token and the push backend alone.
    """

    async def record_client(self, identity: ClientIdentity, session_key: str) -> None:
        """Store a newly issued client identity.

        Args:
            identity: the client, its application, session hash and user.
            session_key: the Django session the client belongs to.
        """
        raise NotImplementedError("subclasses of BaseDatabase must provide record_client()")

    async def find_client(self, client_id: str) -> ClientIdentity | None:
        """The identity of an issued client, or None when there is no such record.

        For the server API (off the hot paths): which application a client belongs to.
        """
        raise NotImplementedError("subclasses of BaseDatabase must provide find_client()")

    def check(self) -> list[CheckMessage]:
        """Return system-check messages about this component's configuration."""
        return []
