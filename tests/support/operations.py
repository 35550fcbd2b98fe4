"""What the admin's and the operator commands' tests share: a small site of real clients
(thywill.testing), a push backend that is down, and how a client's feed answers."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model

from thywill.testing import SyncTestClient

DOWN = {
    "push": {
        "BACKEND": "thywill.push.redis.RedisPushBackend",
        # Nothing listens on port 1: every call is refused at once.
        "OPTIONS": {"url": "redis://127.0.0.1:1/0", "socket_connect_timeout": 1},
    }
}
"""THYWILL_COMPONENTS with a push backend that cannot be reached."""


@dataclasses.dataclass
class Site:
    """Three clients of two applications, one of them logged in, two in a group."""

    alice: SyncTestClient  # rooms, logged in as "alice", in "lobby" and "tea"
    bob: SyncTestClient  # rooms, anonymous, in "lobby"
    carol: SyncTestClient  # echo, anonymous, in no group
    user: Any


def make_site(connect: Callable[..., SyncTestClient]) -> Site:
    """Connect the site's clients with ``connect`` (``thywill_connect_sync``)."""
    user = get_user_model().objects.create_user("alice", password="x")
    alice = connect("rooms", user=user)
    bob = connect("rooms")
    carol = connect("echo")
    for tab, room in ((alice, "lobby"), (bob, "lobby"), (alice, "tea")):
        assert tab.send({"type": "room.join", "room": room}) == {"status": "ok"}
    return Site(alice, bob, carol, user)


def feed_answer(tab: SyncTestClient) -> tuple[int, Any]:
    """The status and error code of one read of a client's long-poll feed (None: no
    error)."""
    response = async_to_sync(tab.http.get)(
        tab.config["endpoints"]["longpoll"],
        {"cursor": tab.config["cursor"], "wait": "0"},
        headers={"X-Thywill-Token": tab.config["token"]},
    )
    error = json.loads(response.content).get("error")
    return response.status_code, None if error is None else error["code"]
