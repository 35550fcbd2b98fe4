"""Clients of an application driven through the event runner directly, with their feeds."""

from __future__ import annotations

import json
import re

from thywill.feed.cursor import Cursor
from thywill.feed.feed import ClientFeed
from thywill.identity.tokens import ClientIdentity, new_client_id
from thywill.wire.inbound import InboundMessage
from thywill.wire.results import Result
from thywill.wiring.runtime import get_runtime

TRACE_ID = re.compile(r"[0-9a-f]{16}")
"""An event's trace id, as a failed or error result carries it."""


class Member:
    """One client of an application (rooms by default), sending through the event
    runner directly; clients made with the same ``session_hash`` share a browser
    session."""

    def __init__(self, app_name: str = "rooms", session_hash: str = "h" * 32) -> None:
        self.identity = ClientIdentity(new_client_id(), app_name, session_hash)
        self.app = get_runtime().application(app_name)
        self.seq = 0

    @property
    def id(self) -> str:
        return self.identity.client_id

    async def send(self, *data) -> list[Result]:
        messages = []
        for item in data:
            self.seq += 1
            messages.append(InboundMessage(self.seq, item))
        return await get_runtime().events.handle_messages(self.app, self.identity, messages)

    async def sent_one(self, data) -> dict:
        [result] = await self.send(data)
        return result.as_json(self.seq)

    def feed(self, cursor: Cursor | None = None) -> ClientFeed:
        return get_runtime().feed(self.identity, cursor or Cursor())


async def data_read(feed: ClientFeed) -> list:
    batch = await feed.read()
    return [json.loads(m.payload) for m in batch.messages]


async def channel_data(channel: str) -> list:
    result = await get_runtime().push.read(channel, None)
    return [json.loads(m.payload) for m in result.messages]
