"""Releasing an outbox: membership changes to the push backend, and what is left to
publish."""

from __future__ import annotations

from thywill.feed.channels import group_name
from thywill.feed.control import subscribe, unsubscribe
from thywill.handlers.outbox import Outbox
from thywill.identity.tokens import private_channel
from thywill.push.base import BasePushBackend
from thywill.wire.outbound import presence_event


async def release(push: BasePushBackend, outbox: Outbox) -> list[tuple[str, str]]:
    """Apply an outbox's membership changes; return every message left to publish.

    A join that is new publishes the join event to the group channel, then a control
    entry on the member's private channel subscribes its feed from that position on.
    A quiet join (a group in the application's ``quiet_groups``) publishes nothing to
    the group and subscribes from its newest message; a quiet leave publishes nothing
    either. A join of a member already in the group (a retried send whose first attempt
    joined, then failed to publish) subscribes it from the group's newest message:
    the feed ignores a subscription it already follows, and one it lost is restored.
    """
    entries: list[tuple[str, str]] = []
    for change in outbox.changes:
        name, member = group_name(change.channel), change.client_id
        if change.action == "join":
            if await push.add_member(change.channel, member) and change.announce:
                position: str | None = await push.publish(
                    change.channel, presence_event("join", name, member)
                )
            else:
                position = await push.newest_position(change.channel)
            control = subscribe(change.channel, position)
            entries.append((private_channel(member), control.encode()))
        elif await push.remove_member(change.channel, member):
            if change.announce:
                await push.publish(change.channel, presence_event("leave", name, member))
            entries.append((private_channel(member), unsubscribe(change.channel).encode()))
    return [*entries, *outbox.messages]
