"""Groups: their channels, presence events, and the control entries that feeds follow.

A group's messages go to one channel, ``group:<application>:<name>``, written once per
message whatever the number of members. Membership lives in the push backend. When a
client joins, a control entry on its private channel tells its feed, even one already
waiting, to read the group channel from the position of the join on; when it leaves,
another tells the feed to stop.
"""

from __future__ import annotations

import dataclasses
import json
import re

GROUP_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,100}")
GROUP_CHANNEL_PREFIX = "group:"

# A control entry's payload starts with a space. Application data is encoded by
# context.encode(), which never writes leading whitespace, so no message an application
# sends can be taken for a control entry (and feeds never deliver control entries).
CONTROL_PREFIX = " "


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


def presence_payload(kind: str, group: str, client_id: str) -> str:
    """The event members get when a client joins or leaves (kind: join, leave)."""
    return json.dumps(
        {"type": f"thywill.{kind}", "group": group, "clientId": client_id},
        separators=(",", ":"),
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Control:
    """A control entry: start reading ``channel`` after ``after``, or stop reading it."""

    action: str
    channel: str
    after: str | None = None

    def encode(self) -> str:
        """The payload to publish on the client's private channel."""
        body = {"action": self.action, "channel": self.channel, "after": self.after}
        return CONTROL_PREFIX + json.dumps(body, separators=(",", ":"))


def subscribe(channel: str, after: str | None) -> Control:
    """Read ``channel`` from after the position ``after`` (the join's) on.

    ``None`` (a group with no message yet) reads it from its first message.
    """
    return Control("subscribe", channel, after)


def unsubscribe(channel: str) -> Control:
    """Stop reading ``channel``."""
    return Control("unsubscribe", channel)


def parse_control(payload: str) -> Control | None:
    """The control entry a payload holds, or None for an ordinary message."""
    if not payload.startswith(CONTROL_PREFIX):
        return None
    body = json.loads(payload)
    return Control(body["action"], body["channel"], body.get("after"))


def announces(app: object, group: str) -> bool:
    """Whether joins and leaves of ``group`` are announced to its members: not for the
    application's ``quiet_groups``."""
    quiet = getattr(app, "quiet_groups", ())
    return group != quiet if isinstance(quiet, str) else group not in quiet
