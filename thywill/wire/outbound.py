"""Encoding what clients receive: deliveries, batches, resets and presence events
(documentation/protocol.md)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from thywill.feed.feed import Batch
from thywill.push.base import StoredMessage


def encode_delivery(message: StoredMessage) -> str:
    """A delivered message as JSON text, around the stored payload (never re-encoded)."""
    return (
        f'{{"channel":{json.dumps(message.channel)},'
        f'"id":{json.dumps(message.position)},"data":{message.payload}}}'
    )


def encode_batch(
    batch: Batch, *, frame_type: str | None = None, sent: str | None = None
) -> str:
    """A batch as the long-poll answer (or, with ``frame_type``, a WebSocket frame).

    ``{"messages": [...], "cursor": C, "reset": null | {...}}``, where ``cursor`` is the
    position after the whole batch and a reset comes before the messages it concerns.
    ``sent``, a send frame's answer (JSON text of an object), goes in as ``"sent"``.
    """
    head = "" if frame_type is None else f'"type":{json.dumps(frame_type)},'
    if sent is not None:
        head += f'"sent":{sent},'
    return _batch_object(head, batch)


def encode_client_batch(
    client_id: str, batch: Batch, *, index: int | None = None, frame_type: str | None = None
) -> str:
    """A batch of one client of a shared connection: ``encode_batch``'s object with
    ``client`` (the client's id) and, when given, ``index`` (its position in the
    connection's tokens)."""
    head = "" if frame_type is None else f'"type":{json.dumps(frame_type)},'
    head += f'"client":{json.dumps(client_id)},'
    if index is not None:
        head += f'"index":{index:d},'
    return _batch_object(head, batch)


def encode_batches(batches: Sequence[tuple[str, Batch]]) -> str:
    """The answer of a shared long-poll: ``{"batches": [...]}``, one client batch per
    (client id, batch), in the order given."""
    entries = ",".join(encode_client_batch(client, batch) for client, batch in batches)
    return f'{{"batches":[{entries}]}}'


def _batch_object(head: str, batch: Batch) -> str:
    messages = ",".join(encode_delivery(m) for m in batch.messages)
    reset = encode_reset(batch.reset_channels) if batch.reset_channels else "null"
    return (
        f'{{{head}"messages":[{messages}],'
        f'"cursor":"{batch.cursor.encode()}","reset":{reset}}}'
    )


def encode_reset(channels: Sequence[str]) -> str:
    """The body of a reset: which channels lost history."""
    return json.dumps(
        {"channels": list(channels), "reason": "history_lost"}, separators=(",", ":")
    )


def presence_event(kind: str, group: str, client_id: str) -> str:
    """The message members get when a client joins or leaves (kind: join, leave)."""
    return json.dumps(
        {"type": f"thywill.{kind}", "group": group, "clientId": client_id},
        separators=(",", ":"),
    )


def user_presence_event(kind: str, group: str, user_id: str) -> str:
    """The message members get when a user's first client joins or its last one
    leaves, in an application whose presence is per user."""
    return json.dumps(
        {"type": f"thywill.{kind}", "group": group, "userId": user_id},
        separators=(",", ":"),
    )
