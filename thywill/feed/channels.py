"""The names of shared channels: groups and users.

A group's messages go to one channel, ``group:<application>:<name>``, written once per
message whatever the number of members; a user's, to ``user:<application>:<user id>``,
which every client of that user in that application follows; a client's own channel is
``client:<id>`` (``thywill.identity.tokens.private_channel``).
"""

from __future__ import annotations

import hashlib
import re

GROUP_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,100}")
GROUP_CHANNEL_PREFIX = "group:"
USER_CHANNEL_PREFIX = "user:"
PLAIN_USER_ID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


def group_channel(application: str, group: str) -> str:
    """The channel of an application's group.

    Raises:
        ValueError: ``group`` is not a valid group name.
    """
    if not isinstance(group, str) or not GROUP_NAME.fullmatch(group):
        raise ValueError(
            f"invalid group name {group!r}: use 1 to 100 letters, digits and _ . @ -"
        )
    return f"{GROUP_CHANNEL_PREFIX}{application}:{group}"


def group_prefix(application: str) -> str:
    """The start of the channel names of every group of an application."""
    return f"{GROUP_CHANNEL_PREFIX}{application}:"


def group_application(channel: str) -> str:
    """The application of a group channel."""
    return channel.split(":", 2)[1]


def group_name(channel: str) -> str:
    """The group name of a group channel (the part after the application)."""
    return channel.split(":", 2)[2]


def user_channel(application: str, user_id: str) -> str:
    """The channel every client of a user in an application follows.

    A primary key that is not a short plain string (a long email, one with spaces) is
    named by its hash, so any user can have a channel.
    """
    if not PLAIN_USER_ID.fullmatch(user_id):
        user_id = "h" + hashlib.sha256(user_id.encode()).hexdigest()[:40]
    return f"{USER_CHANNEL_PREFIX}{application}:{user_id}"


def is_group(channel: str) -> bool:
    """Whether a channel is a group's."""
    return channel.startswith(GROUP_CHANNEL_PREFIX)


def is_shared(channel: str) -> bool:
    """Whether a channel is a group's or a user's (one a feed follows by membership)."""
    return channel.startswith((GROUP_CHANNEL_PREFIX, USER_CHANNEL_PREFIX))
