"""thywill under any URL prefix, and on a project that lacks middleware it relies on."""

from __future__ import annotations

import json
import re

import pytest
from channels.testing import WebsocketCommunicator
from django.test import AsyncClient

from thywill.edge.direct import DirectEndpoints
from thywill.edge.websocket import WebsocketRouter

pytestmark = pytest.mark.django_db(transaction=True)

CONFIG_SCRIPT = re.compile(
    r'<script id="thywill-config" type="application/json">(.*?)</script>'
)
WAIT = 2.0


async def page_config(client: AsyncClient, path: str) -> dict:
    response = await client.get(path)
    assert response.status_code == 200
    [raw] = CONFIG_SCRIPT.findall(response.content.decode())
    return json.loads(raw)


async def test_every_url_the_client_is_given_follows_the_prefix(settings):
    """Included under /rt/, the page hands out /rt/ endpoints, WebSocket included."""
    settings.ROOT_URLCONF = "tests.apps.prefixed_urls"
    config = await page_config(AsyncClient(), "/rt/init/")
    assert config["endpoints"] == {
        "send": "/rt/send/",
        "sse": "/rt/sse/",
        "longpoll": "/rt/longpoll/",
        "websocket": "/rt/websocket/",
        "bye": "/rt/bye/",
    }


async def test_the_transports_are_routed_at_the_prefix(settings):
    """The direct endpoints and the WebSocket router serve the prefixed paths only."""
    settings.ROOT_URLCONF = "tests.apps.prefixed_urls"

    async def django(scope, receive, send):
        raise AssertionError("not a Django path")

    assert set(DirectEndpoints(django).routes()) == {
        "/rt/send/",
        "/rt/longpoll/",
        "/rt/sse/",
    }
    client = AsyncClient()
    config = await page_config(client, "/rt/init/")
    cookies = "; ".join(f"{k}={v.value}" for k, v in client.cookies.items())
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    headers.append((b"cookie", cookies.encode()))
    socket = WebsocketCommunicator(WebsocketRouter(), "/rt/websocket/", headers=headers)
    connected, _ = await socket.connect(timeout=WAIT)
    assert connected
    await socket.send_to(json.dumps({"type": "auth", "token": config["token"]}))
    opened = json.loads(await socket.receive_from(timeout=WAIT))
    assert opened["type"] == "open"
    await socket.disconnect()
    elsewhere = WebsocketCommunicator(WebsocketRouter(), "/thywill/websocket/")
    await elsewhere.connect(timeout=WAIT)
    refused = json.loads(await elsewhere.receive_from(timeout=WAIT))
    assert refused["error"]["code"] == "not_found"
    await elsewhere.disconnect()


async def test_the_websocket_url_over_plain_http_is_told_to_upgrade():
    """GET on the WebSocket transport's URL answers 426 with the protocol's JSON."""
    response = await AsyncClient().get("/thywill/websocket/")
    assert response.status_code == 426
    assert response["Upgrade"] == "websocket"
    assert response.json()["error"]["code"] == "upgrade_required"


async def test_the_page_sets_its_csrf_cookie_and_frame_policy_itself(settings):
    """Without the project's CSRF and clickjacking middleware the page still sets the
    CSRF cookie the send endpoint checks, and refuses to be framed."""
    settings.MIDDLEWARE = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]
    client = AsyncClient()
    response = await client.get("/thywill/init/")
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert client.cookies[settings.CSRF_COOKIE_NAME].value
