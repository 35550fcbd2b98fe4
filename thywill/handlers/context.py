"""The context handed to application handlers: replies, sends and groups."""

from __future__ import annotations

from typing import TYPE_CHECKING

from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.auth import get_user_model

from thywill.feed.channels import group_channel, group_name, group_prefix
from thywill.feed.users import user_counts
from thywill.handlers.outbox import Outbox, Request
from thywill.identity.tokens import ClientIdentity, check_client_id, private_channel
from thywill.push.base import BasePushBackend
from thywill.types import JSON

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser


class Context:
    """One event as an application handler sees it, and the way to act from it.

    Nothing a handler does through the context happens at once: sends, joins and leaves
    are kept in the event's outbox and released only when the event's whole pipeline
    succeeded (and the handler's database transaction committed). A failed flow sends
    nothing. Joins, leaves and group messages also run through the pipeline as events of
    their own (``join``, ``leave``, ``group_message``) right after the handler returns.

    Args:
        identity: the client the event comes from.
        push: the push backend, for what the context reads now (members, groups).
        outbox: where what the event sends waits for its release.
    """

    __slots__ = ("_push", "_user", "identity", "outbox")

    def __init__(
        self,
        identity: ClientIdentity,
        *,
        push: BasePushBackend,
        outbox: Outbox | None = None,
    ) -> None:
        self.identity = identity
        self.outbox = outbox if outbox is not None else Outbox()
        self._push = push
        self._user: AbstractBaseUser | AnonymousUser | None = None

    @property
    def client_id(self) -> str:
        """The id of the client the event comes from."""
        return self.identity.client_id

    @property
    def user_id(self) -> str | None:
        """The primary key of the logged-in user, as a string, or None."""
        return self.identity.user_id

    @property
    def user(self) -> AbstractBaseUser | AnonymousUser:
        """The logged-in user the client belongs to, loaded on first use (one query),
        or ``AnonymousUser`` (also for a user deleted since). In async handlers,
        ``await ctx.auser()``."""
        if self._user is None:
            self._user = _load_user(self.user_id)
        return self._user

    async def auser(self) -> AbstractBaseUser | AnonymousUser:
        """``ctx.user`` for async handlers."""
        if self._user is None:
            self._user = await sync_to_async(_load_user)(self.user_id)
        return self._user

    @property
    def application(self) -> str:
        """The name of the application the client belongs to."""
        return self.identity.application

    def reply(self, data: JSON) -> None:
        """Send ``data`` to the client the event comes from."""
        self.outbox.add_message(self.identity.channel, data)

    def send(self, client_id: str, data: JSON) -> None:
        """Send ``data`` to any client, by id.

        Raises:
            ValueError: ``client_id`` is not a client id.
        """
        self.outbox.add_message(private_channel(check_client_id(client_id)), data)

    def join(self, group: str, client_id: str | None = None) -> None:
        """Make the client (or another client, by id) a member of one of this
        application's groups; joining a group creates it.

        Members receive a ``{"type": "thywill.join", "group", "clientId"}`` message on
        the group's channel; the joining client receives every group message sent after
        its join. Joining a group one is already in does nothing.

        Raises:
            ValueError: an invalid group name or client id.
        """
        group_channel(self.application, group)
        member = self.client_id if client_id is None else check_client_id(client_id)
        self.outbox.requests.append(Request("join", group, member))

    def leave(self, group: str, client_id: str | None = None) -> None:
        """Remove the client (or another client) from a group; members get a
        ``thywill.leave`` message. Leaving a group one is not in does nothing.

        Raises:
            ValueError: an invalid group name or client id.
        """
        group_channel(self.application, group)
        member = self.client_id if client_id is None else check_client_id(client_id)
        self.outbox.requests.append(Request("leave", group, member))

    def send_to_group(self, group: str, data: JSON) -> None:
        """Send ``data`` to every member of a group: written once, to the group channel.

        Raises:
            ValueError: an invalid group name.
        """
        group_channel(self.application, group)
        self.outbox.requests.append(Request("group_message", group, data=data))

    async def amembers(self, group: str) -> list[str]:
        """The ids of a group's members now, sorted (changes of this flow not included)."""
        return await self._push.members(group_channel(self.application, group))

    def members(self, group: str) -> list[str]:
        """``amembers()`` for sync handlers (in async ones, ``await ctx.amembers()``)."""
        return async_to_sync(self.amembers)(group)

    async def agroups(self) -> list[str]:
        """The names of this application's groups the client is in now, sorted."""
        prefix = group_prefix(self.application)
        channels = await self._push.memberships(self.client_id)
        return [group_name(c) for c in channels if c.startswith(prefix)]

    def groups(self) -> list[str]:
        """``agroups()`` for sync handlers."""
        return async_to_sync(self.agroups)()

    async def auser_counts(self, group: str) -> dict[str, int]:
        """The logged-in users in a group now, each with how many of its clients are
        members (``thywill.auser_counts``)."""
        channel = group_channel(self.application, group)
        return await user_counts(self._push, self.application, channel)

    def user_counts(self, group: str) -> dict[str, int]:
        """``auser_counts()`` for sync handlers."""
        return async_to_sync(self.auser_counts)(group)


def _load_user(user_id: str | None) -> AbstractBaseUser | AnonymousUser:
    # Imported here, as django.contrib.auth.get_user() does: auth's models cannot be
    # imported while INSTALLED_APPS (thywill among them) is still being loaded.
    from django.contrib.auth.models import AnonymousUser

    if user_id is None:
        return AnonymousUser()
    model = get_user_model()
    try:
        return model._default_manager.get(pk=user_id)
    except model.DoesNotExist:
        return AnonymousUser()
