"""A plain Django view pushes to a group, in and out of transactions and from a signal:
every tab receives each committed message once, in order, on every transport, through
the application's on_send pipe; nothing from a rolled-back transaction arrives."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.live import LiveServer
from tests.support.http_client import ThywillHttpClient, data_of, delivered

pytestmark = pytest.mark.live

MODES = ["plain", "atomic", "rollback", "signal"]


def in_lobby(server: LiveServer) -> ThywillHttpClient:
    tab = ThywillHttpClient(server.url, "rooms")
    tab.bootstrap()
    assert tab.send({"type": "room.join", "room": "lobby"})[0]["status"] == "ok"
    return tab


def pushed(messages: list[Any]) -> list[Any]:
    """What the view pushed (text): not the group's presence events."""
    return [m for m in messages if isinstance(m, str)]


def test_a_view_pushes_committed_messages_to_every_tab_once_and_in_order(live):
    tabs = {name: in_lobby(live) for name in ("longpoll", "sse", "websocket")}
    # In capitals: the rooms application's on_send pipe (Upper) saw each of them.
    expected = [
        f"{mode.upper()} {n}" for n, mode in enumerate(MODES * 5) if mode != "rollback"
    ]
    try:
        socket = tabs["websocket"]
        with socket.websocket() as connection:
            socket.ws_frames(connection, lambda fs: any(f["type"] == "open" for f in fs))
            with httpx.Client(base_url=live.url, timeout=10) as http:
                for n, mode in enumerate(MODES * 5):
                    assert http.post(f"/push/{mode}/{n}/").status_code == 200

            def complete(messages: list[Any]) -> bool:
                return len(pushed(messages)) >= len(expected)

            frames = socket.ws_frames(connection, lambda f: complete(delivered(f)))
        assert pushed(delivered(frames)) == expected
        for name in ("longpoll", "sse"):
            tab = tabs[name]
            got = data_of(tab.receive(lambda m: complete(data_of(m)), transport=name))
            assert pushed(got) == expected, name
            assert pushed(data_of(tab.receive(1, timeout=0.5))) == []  # nothing twice
    finally:
        for tab in tabs.values():
            tab.close()
