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

    async def clients_beyond(self, session_key: str, keep: int) -> list[ClientIdentity]:
        """The clients of a session beyond its ``keep`` newest, oldest last.

        Called when a client is issued, to end what THYWILL_LIMITS
        ["MAX_CLIENTS_PER_SESSION"] leaves out. The default finds none: a component that
        cannot list a session's clients does not bound them.
        """
        return []

    async def purge_clients(self, issued_before: float) -> int:
        """Delete the records of clients issued before ``issued_before`` (a
        ``time.time()`` value); return how many there were.

        ``manage.py thywill_purge`` calls it with TOKEN_MAX_AGE ago: those clients'
        tokens no longer work, so nothing reads their records.
        """
        raise NotImplementedError("subclasses of BaseDatabase must provide purge_clients()")

    def check(self) -> list[CheckMessage]:
        """Return system-check messages about this component's configuration."""
        return []
