"""``POST /thywill/bye/``: a page that goes away shortens its client's lease to
BYE_GRACE, so its disconnect event runs then instead of when a whole lease lapses,
unless the page comes back (a reload that resumes the client) meanwhile."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.test import AsyncClient, override_settings

from thywill.testing import TestClient, connect
from thywill.wiring.runtime import get_runtime
from thywill_apps.chat.models import Nickname

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("short_grace"),
]

GRACE = 0.3
"""BYE_GRACE here, in seconds."""


@pytest.fixture
def short_grace():
    with override_settings(THYWILL_LIMITS={"BYE_GRACE": GRACE}):
        yield


async def past_the_grace() -> None:
    """Wait out the grace, then sweep as the process's sweeper would."""
    await asyncio.sleep(GRACE + 0.1)
    await get_runtime().presence.sweep()


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


async def test_a_bye_runs_the_disconnect_event_once_the_grace_is_over():
    """The room's members are told once the grace is over, and the handler ran (the
    nickname is gone); a second bye does nothing more."""
    alice = await in_the_lobby("Alice")
    bob = await in_the_lobby("Bob")
    await alice.receive()

    assert await bye(bob) == (204, b"")
    assert await alice.receive() == []  # not yet: Bob's page may be reloading

    await past_the_grace()
    left = [d for d in await alice.receive() if d.get("type") == "thywill.leave"]
    assert left == [
        {"type": "thywill.leave", "group": left[0]["group"], "clientId": bob.client_id}
    ]
    assert not await Nickname.objects.filter(client_id=bob.client_id).aexists()

    assert await bye(bob) == (204, b"")
    await past_the_grace()
    assert await alice.receive() == []


async def test_a_page_back_within_the_grace_was_never_gone():
    """A reload: the resumed client reads again before the grace is over, and nobody
    hears of a leave."""
    alice = await in_the_lobby("Alice")
    bob = await in_the_lobby("Bob")
    await alice.receive()

    assert await bye(bob) == (204, b"")
    await bob.receive()  # the reloaded page's first read renews the lease
    await past_the_grace()

    assert await alice.receive() == []
    assert await Nickname.objects.filter(client_id=bob.client_id).aexists()
    assert (await bob.send({"type": "chat.people"}))["status"] == "ok"


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
