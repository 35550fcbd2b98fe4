"""``POST /thywill/bye/``: a page that goes away ends its client at once, so its
disconnect event runs now instead of when its presence lease lapses."""

from __future__ import annotations

import json

import pytest
from django.test import AsyncClient

from thywill.testing import TestClient, connect
from thywill_apps.chat.models import Nickname

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/thywill/bye/"


async def bye(client: TestClient, token: str | None = None) -> tuple[int, bytes]:
    """POST the bye of ``client`` (or of another ``token``) from its browser."""
    response = await client.http.post(
        client.config["endpoints"]["bye"],
        json.dumps({"token": token if token is not None else client.config["token"]}),
        content_type="application/json",
        headers={"X-CSRFToken": client.config["csrfToken"]},
    )
    return response.status_code, response.content


async def in_the_lobby(nick: str) -> TestClient:
    """A chat client called ``nick``, in the room Lobby."""
    client = await connect("chat")
    assert (await client.send({"type": "chat.nick", "nick": nick}))["status"] == "ok"
    assert (await client.send({"type": "chat.join", "room": "Lobby"}))["status"] == "ok"
    await client.receive()
    return client


async def test_the_endpoint_is_in_the_clients_configuration():
    client = await connect("chat")
    assert client.config["endpoints"]["bye"] == URL


async def test_a_bye_runs_the_disconnect_event_now_and_ends_the_client():
    """The room's members are told at once, the handler ran (the nickname is gone), and
    the client can no longer send; a second bye does nothing more."""
    alice = await in_the_lobby("Alice")
    bob = await in_the_lobby("Bob")
    await alice.receive()

    assert await bye(bob) == (204, b"")

    left = [d for d in await alice.receive() if d.get("type") == "thywill.leave"]
    assert left == [
        {"type": "thywill.leave", "group": left[0]["group"], "clientId": bob.client_id}
    ]
    assert not await Nickname.objects.filter(client_id=bob.client_id).aexists()
    response = await bob.http.post(
        bob.config["endpoints"]["send"],
        json.dumps({"token": bob.config["token"], "messages": [{"seq": 9, "data": 1}]}),
        content_type="application/json",
        headers={"X-CSRFToken": bob.config["csrfToken"]},
    )
    assert (response.status_code, response.json()["error"]["code"]) == (
        410,
        "disconnected",
    )

    assert await bye(bob) == (204, b"")
    assert await alice.receive() == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{}", 400, "bad_message"),
        ('{"token": 1}', 400, "bad_message"),
        ("not json", 400, "bad_json"),
        ('{"token": "forged"}', 403, "bad_token"),
    ],
)
async def test_a_bad_bye_is_refused_and_ends_nothing(body, status, code):
    alice = await in_the_lobby("Alice")
    response = await alice.http.post(
        URL,
        body,
        content_type="application/json",
        headers={"X-CSRFToken": alice.config["csrfToken"]},
    )
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert (await alice.send({"type": "chat.people"}))["status"] == "ok"


async def test_a_bye_needs_post_and_the_csrf_token():
    """Another page cannot end a visitor's clients: CSRF applies as to a send."""
    alice = await in_the_lobby("Alice")
    strict = AsyncClient(enforce_csrf_checks=True)
    strict.cookies = alice.http.cookies  # the browser's session, without the header
    refused = await strict.post(
        URL, json.dumps({"token": alice.config["token"]}), content_type="application/json"
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "csrf_failed")
    wrong = await alice.http.get(URL)
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "method_not_allowed")
    assert (await alice.send({"type": "chat.people"}))["status"] == "ok"
