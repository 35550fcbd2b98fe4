"""Control entries: what tells a client's feed to follow a group channel, or to stop.

Membership lives in the push backend. When a client joins a group, a control entry on its
private channel tells its feed, even one already waiting, to read the group channel from
the position of the join on; when it leaves, another tells the feed to stop. An ``end``
entry, written when the server disconnects the client, ends its streams. Feeds never
deliver control entries.
"""

from __future__ import annotations

import dataclasses
import json

# A control entry's payload starts with a space. Application data is encoded by
# thywill.handlers.outbox.encode(), which never writes leading whitespace, so no message
# an application sends can be taken for a control entry.
CONTROL_PREFIX = " "


@dataclasses.dataclass(frozen=True, slots=True)
class Control:
    """A control entry: start reading ``channel`` after ``after``, stop reading it, or
    (``end``) end the client's streams."""

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


def end(channel: str) -> Control:
    """End the streams of the client whose private channel this is: the server
    disconnected it."""
    return Control("end", channel)


def parse_control(payload: str) -> Control | None:
    """The control entry a payload holds, or None for an ordinary message."""
    if not payload.startswith(CONTROL_PREFIX):
        return None
    body = json.loads(payload)
    return Control(body["action"], body["channel"], body.get("after"))
