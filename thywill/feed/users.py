"""Which users are in a group: the user channels its members follow."""

from __future__ import annotations

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
    prefix = f"{USER_CHANNEL_PREFIX}{application}:"
    counts: Counter[str] = Counter()
    for member in await push.members(group_channel):
        for channel in await push.memberships(member):
            if channel.startswith(prefix):
                counts[channel.removeprefix(prefix)] += 1
    return dict(sorted(counts.items()))
