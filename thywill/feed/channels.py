"""The names of group channels.

A group's messages go to one channel, ``group:<application>:<name>``, written once per
message whatever the number of members; a client's own channel is ``client:<id>``
(``thywill.identity.tokens.private_channel``).
"""

from __future__ import annotations

import re

GROUP_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,100}")
GROUP_CHANNEL_PREFIX = "group:"


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


def group_name(channel: str) -> str:
    """The group name of a group channel (the part after the application)."""
    return channel.split(":", 2)[2]
