"""What an operator asks of a running site: how it is set up and whether its push
backend answers, how many clients are connected, which groups exist and who is in them.

``manage.py thywill_status`` and ``thywill_members`` and the Django admin ask it. Every
read is bounded (a page of groups, a capped list of members, one presence read for a
page of clients) and none runs on the hot paths: only when a command runs or an admin
page renders.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from asgiref.sync import async_to_sync

from thywill import conf
from thywill.api import amembers
from thywill.exceptions import PushUnavailableError
from thywill.feed.channels import group_name, group_prefix
from thywill.models import Client
from thywill.wiring.runtime import get_runtime

GROUPS_PAGE = 100
"""How many group names one page lists, by default."""

MAX_MEMBERS = 500
"""The most members of one group that are listed with their users (the total is told)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Member:
    """A member of a group: its client id, the user it belongs to (None when anonymous
    or when its record was purged) and whether it is connected now."""

    client_id: str
    user: Any
    connected: bool

    def as_json(self) -> dict[str, Any]:
        """The member as JSON: ``user`` is ``{"pk": ..., "name": ...}`` or null."""
        user = None if self.user is None else {"pk": self.user.pk, "name": str(self.user)}
        return {"client": self.client_id, "user": user, "connected": self.connected}


@dataclasses.dataclass(frozen=True, slots=True)
class GroupMembers:
    """One group's members: ``total`` of them, the first ``len(members)`` listed."""

    application: str
    group: str
    total: int
    members: list[Member]


@dataclasses.dataclass(frozen=True, slots=True)
class Status:
    """How the site is set up, and what its push backend says now.

    Attributes:
        components: each component role and the class chosen for it (BACKEND only:
            OPTIONS may hold secrets, such as a Redis password).
        applications: each application's name and class.
        transports: the enabled transports, in the order clients try them.
        push_error: why the push backend did not answer, or None when it did.
        clients: the client records in the database (issued, not purged).
        connected: the clients holding a presence lease (None: push backend down).
        groups: each application's number of groups with members (None: push down).
    """

    components: dict[str, str]
    applications: dict[str, str]
    default_application: str
    transports: tuple[str, ...]
    push_error: str | None
    clients: int
    connected: int | None
    groups: dict[str, int] | None

    def as_json(self) -> dict[str, Any]:
        """The status as one JSON object."""
        report = dataclasses.asdict(self)
        report["transports"] = list(self.transports)
        report["push"] = "ok" if self.push_error is None else "unavailable"
        return report


async def astatus() -> Status:
    """The site's components, applications and transports, and the counts of clients,
    connected clients and groups; a push backend that cannot be reached is reported
    in ``push_error``, not raised."""
    runtime = get_runtime()
    applications = runtime.applications()
    connected: int | None = None
    groups: dict[str, int] | None = None
    push_error: str | None = None
    try:
        await runtime.push.ping()
        connected = await runtime.push.count_present()
        groups = {
            spec.name: await runtime.push.count_groups(group_prefix(spec.name))
            for spec in applications
        }
    except PushUnavailableError as exc:
        push_error = str(exc)
    return Status(
        components={
            role: config["BACKEND"] for role, config in conf.get_component_configs().items()
        },
        applications={
            name: config["BACKEND"]
            for name, config in conf.get_application_configs().items()
        },
        default_application=conf.get_default_application(),
        transports=conf.get_transports(),
        push_error=push_error,
        clients=await Client.objects.acount(),
        connected=connected,
        groups=groups,
    )


def status() -> Status:
    """``astatus()`` for sync code."""
    return async_to_sync(astatus)()


async def agroups(
    app: str, *, after: str | None = None, limit: int = GROUPS_PAGE
) -> list[str]:
    """The names of an application's groups that have members now, sorted, at most
    ``limit`` of them, after the name ``after`` (the last of the previous page).

    Raises:
        UnknownApplicationError: no application is called ``app``.
        ValueError: ``limit`` is not a positive integer.
        PushUnavailableError: the push backend cannot be reached.
    """
    runtime = get_runtime()
    prefix = group_prefix(runtime.application(app).name)
    start = None if after is None else prefix + after
    channels = await runtime.push.groups(prefix, after=start, limit=limit)
    return [group_name(channel) for channel in channels]


def groups(app: str, *, after: str | None = None, limit: int = GROUPS_PAGE) -> list[str]:
    """``agroups()`` for sync code."""
    return async_to_sync(agroups)(app, after=after, limit=limit)


async def acount_groups(app: str) -> int:
    """How many groups of an application have members now.

    Raises:
        UnknownApplicationError: no application is called ``app``.
        PushUnavailableError: the push backend cannot be reached.
    """
    runtime = get_runtime()
    return await runtime.push.count_groups(group_prefix(runtime.application(app).name))


def count_groups(app: str) -> int:
    """``acount_groups()`` for sync code."""
    return async_to_sync(acount_groups)(app)


async def aconnected(client_ids: Sequence[str]) -> set[str]:
    """Which of these clients are connected now (hold a presence lease), in one read.

    Raises:
        PushUnavailableError: the push backend cannot be reached.
    """
    return await get_runtime().push.present(client_ids)


def connected(client_ids: Sequence[str]) -> set[str]:
    """``aconnected()`` for sync code."""
    return async_to_sync(aconnected)(client_ids)


async def aclient_groups(app: str, client_id: str) -> list[str]:
    """The names of the groups of its application a client is in now, sorted.

    Raises:
        UnknownApplicationError: no application is called ``app``.
        PushUnavailableError: the push backend cannot be reached.
    """
    runtime = get_runtime()
    prefix = group_prefix(runtime.application(app).name)
    channels = await runtime.push.memberships(client_id)
    return [group_name(channel) for channel in channels if channel.startswith(prefix)]


def client_groups(app: str, client_id: str) -> list[str]:
    """``aclient_groups()`` for sync code."""
    return async_to_sync(aclient_groups)(app, client_id)


async def agroup_members(app: str, group: str, *, limit: int = MAX_MEMBERS) -> GroupMembers:
    """A group's members with their users and whether each is connected: the first
    ``limit`` by client id, and how many there are in all.

    Raises:
        UnknownApplicationError: no application is called ``app``.
        ValueError: an invalid group name.
        PushUnavailableError: the push backend cannot be reached.
    """
    ids = await amembers(app, group)
    shown = ids[:limit]
    live = await aconnected(shown)
    users = {
        client.id: client.user
        async for client in Client.objects.filter(id__in=shown).select_related("user")
    }
    members = [Member(c, users.get(c), c in live) for c in shown]
    return GroupMembers(get_runtime().application(app).name, group, len(ids), members)


def group_members(app: str, group: str, *, limit: int = MAX_MEMBERS) -> GroupMembers:
    """``agroup_members()`` for sync code."""
    return async_to_sync(agroup_members)(app, group, limit=limit)
