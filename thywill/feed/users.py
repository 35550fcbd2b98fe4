"""Users in groups: the user channels members follow, and the sets that per-user
presence keeps."""

from __future__ import annotations

import hashlib
from collections import Counter

from thywill.feed.channels import USER_CHANNEL_PREFIX
from thywill.push.base import BasePushBackend


async def user_counts(
    push: BasePushBackend, application: str, group_channel: str
) -> dict[str, int]:
    """How many clients of each logged-in user are members of a group.

    A logged-in user's client follows ``user:<application>:<user id>``
    (``thywill.feed.channels.user_channel``); anonymous clients follow none and are not
    counted. One membership lookup per member: for pages and commands, not hot paths.
    """
    counts: Counter[str] = Counter()
    for member in await push.members(group_channel):
        user_id = await user_of(push, application, member)
        if user_id is not None:
            counts[user_id] += 1
    return dict(sorted(counts.items()))


def group_users(group_channel: str) -> str:
    """The set of the logged-in users present in a group (per-user presence)."""
    return "users:" + _digest(group_channel)


def user_clients(group_channel: str, user_id: str) -> str:
    """The set of a user's clients in a group (per-user presence)."""
    return "clients:" + _digest(f"{group_channel}\0{user_id}")


def _digest(text: str) -> str:
    # A fixed-length name: a group channel and a user id together may exceed the 200
    # characters a push backend accepts.
    return hashlib.sha256(text.encode()).hexdigest()[:40]


async def user_of(push: BasePushBackend, application: str, client_id: str) -> str | None:
    """The id of the logged-in user a client belongs to (from the user channel it
    follows), or None."""
    prefix = f"{USER_CHANNEL_PREFIX}{application}:"
    for channel in await push.memberships(client_id):
        if channel.startswith(prefix):
            return channel.removeprefix(prefix)
    return None
