"""Releasing an outbox: membership changes to the push backend, and what is left to
publish."""

from __future__ import annotations

from thywill.feed.channels import group_application, group_name
from thywill.feed.control import subscribe, unsubscribe
from thywill.feed.users import group_users, user_clients, user_of
from thywill.handlers.outbox import Change, Outbox
from thywill.identity.tokens import private_channel
from thywill.push.base import BasePushBackend
from thywill.wire.outbound import presence_event, user_presence_event


async def release(push: BasePushBackend, outbox: Outbox) -> list[tuple[str, str]]:
    """Apply an outbox's membership changes; return every message left to publish.

    A join that is new publishes the join event to the group channel, then a control
    entry on the member's private channel subscribes its feed from that position on.
    A quiet join (a group in the application's ``quiet_groups``) publishes nothing to
    the group and subscribes from its newest message; a quiet leave publishes nothing
    either. A join of a member already in the group (a retried send whose first attempt
    joined, then failed to publish) subscribes it from the group's newest message:
    the feed ignores a subscription it already follows, and one it lost is restored.
    With per-user presence, only a user's first client to join and last to leave are
    announced (``_announce_user``).
    """
    entries: list[tuple[str, str]] = []
    for change in outbox.changes:
        member = change.client_id
        if change.action == "join":
            position: str | None = None
            if await push.add_member(change.channel, member) and change.announce:
                position = await _announce(push, change)
            if position is None:
                position = await push.newest_position(change.channel)
            control = subscribe(change.channel, position)
            entries.append((private_channel(member), control.encode()))
        elif await push.remove_member(change.channel, member):
            if change.announce:
                await _announce(push, change)
            entries.append((private_channel(member), unsubscribe(change.channel).encode()))
    return entries + outbox.messages


async def _announce(push: BasePushBackend, change: Change) -> str | None:
    """Tell a group's members of a join or leave that happened; return the position of
    the event published for a join (None: none was)."""
    name = group_name(change.channel)
    if change.per_user:
        application = group_application(change.channel)
        user_id = await user_of(push, application, change.client_id)
        if user_id is not None:
            return await _announce_user(push, change, name, user_id)
    event = presence_event(change.action, name, change.client_id)
    return await push.publish(change.channel, event)


async def _announce_user(
    push: BasePushBackend, change: Change, name: str, user_id: str
) -> str | None:
    """Per-user presence: the user joined with its first client in the group and left
    with its last.

    Two sets in the push backend keep it: the group's present users and each user's
    clients in the group. Adding or removing a user is atomic in every backend, so of
    clients joining or leaving at once, on any processes, exactly one announces. A leave
    that races a join of the same user ends with the user present: it is announced
    leaving, then joining again.
    """
    users, clients = group_users(change.channel), user_clients(change.channel, user_id)
    if change.action == "join":
        await push.add_member(clients, change.client_id)
        if await push.add_member(users, user_id):
            event = user_presence_event("join", name, user_id)
            return await push.publish(change.channel, event)
        return None
    await push.remove_member(clients, change.client_id)
    if await push.members(clients) or not await push.remove_member(users, user_id):
        return None
    await push.publish(change.channel, user_presence_event("leave", name, user_id))
    if await push.members(clients) and await push.add_member(users, user_id):
        await push.publish(change.channel, user_presence_event("join", name, user_id))
    return None
