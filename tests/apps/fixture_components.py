"""Small components and applications for tests that need one to misbehave on purpose."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager

from django.contrib.sessions.middleware import SessionMiddleware

from thywill.exceptions import PushUnavailableError
from thywill.log.stdlib import StdlibLog
from thywill.push.base import BasePushBackend, ReadResult
from thywill.push.locmem import LocMemPushBackend


class UnreachablePushBackend(BasePushBackend):
    """A push backend whose server is down: every operation raises PushUnavailableError."""

    def _down(self) -> PushUnavailableError:
        return PushUnavailableError("connection refused (test backend)")

    async def publish_many(self, entries: Sequence[tuple[str, str]]) -> list[str]:
        raise self._down()

    async def read(self, channel: str, after: str | None, limit: int = 100) -> ReadResult:
        raise self._down()

    async def newest_position(self, channel: str) -> str | None:
        raise self._down()

    async def wait(self, positions: Mapping[str, str | None], timeout: float) -> bool:
        raise self._down()

    async def last_sequence(self, client_id: str) -> int:
        raise self._down()

    async def publish_sequenced(
        self,
        client_id: str,
        seq: int,
        entries: Sequence[tuple[str, str]],
        *,
        final: bool = False,
    ) -> list[str] | None:
        raise self._down()

    def client_lock(
        self, client_id: str, *, session: str | None = None
    ) -> AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    async def renew_presence(self, client_id: str, data: str, ttl: float) -> bool:
        raise self._down()

    async def claim_lapsed(
        self, limit: int = 100, lease: float = 60.0
    ) -> list[tuple[str, str]]:
        raise self._down()

    async def ack_lapsed(self, client_id: str) -> None:
        raise self._down()

    async def add_member(self, group: str, client_id: str) -> bool:
        raise self._down()

    async def remove_member(self, group: str, client_id: str) -> bool:
        raise self._down()

    async def members(self, group: str) -> list[str]:
        raise self._down()

    async def memberships(self, client_id: str) -> list[str]:
        raise self._down()

    async def revoke_session(self, session: str, ttl: float) -> None:
        raise self._down()

    async def session_revoked(self, session: str) -> bool:
        raise self._down()

    async def ping(self) -> None:
        raise self._down()


class JournalPushBackend(LocMemPushBackend):
    """An in-memory backend that notes its closing in ``journal``, and can fail to close."""

    def __init__(self, *, journal: list[str], fail_close: bool = False) -> None:
        super().__init__()
        self.journal = journal
        self.fail_close = fail_close

    async def aclose(self) -> None:
        self.journal.append("push.aclose")
        if self.fail_close:
            raise OSError("cannot close (test backend)")


class JournalLog(StdlibLog):
    """A standard log component that notes its closing in ``journal``."""

    def __init__(self, *, journal: list[str]) -> None:
        super().__init__()
        self.journal = journal

    async def aclose(self) -> None:
        self.journal.append("log.aclose")


class NotAnApplication:
    """Accepts the ``name`` every application gets, but has no handlers or assets."""

    def __init__(self, *, name: str) -> None:
        self.name = name


def not_a_class() -> None:
    """A function where settings expect a class."""


class FlakyPushBackend(LocMemPushBackend):
    """An in-memory backend whose next ``publish_sequenced`` fails, when told to.

    Stands for a backend that went away between a send's membership changes and the
    publish that records it: the client then resends the same batch.
    """

    def __init__(self) -> None:
        super().__init__()
        self.fail_next_sequenced = False

    async def publish_sequenced(
        self,
        client_id: str,
        seq: int,
        entries: Sequence[tuple[str, str]],
        *,
        final: bool = False,
    ) -> list[str] | None:
        if self.fail_next_sequenced:
            self.fail_next_sequenced = False
            raise PushUnavailableError("connection lost (test backend)")
        return await super().publish_sequenced(client_id, seq, entries, final=final)


class OwnSessionMiddleware(SessionMiddleware):
    """A project's own session middleware, as some projects have."""
