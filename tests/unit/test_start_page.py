"""The start page at the site's root: every configured application, linked."""

from __future__ import annotations

import re

import pytest
from django.test import AsyncClient, Client

from thywill_apps.chat.application import ChatApplication
from thywill_apps.echo.application import EchoApplication

LINK = re.compile(r'<a class="application" href="([^"]+)">([^<]+)</a>')


async def test_the_start_page_lists_every_application_in_settings_order():
    """Each application's title links to its bootstrap page; descriptions are shown."""
    response = await AsyncClient().get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert LINK.findall(html) == [
        ("/thywill/echo/init/", "Echo"),
        ("/thywill/chat/init/", "Chat"),
        ("/thywill/testkit/init/", "Testkit"),
        ("/thywill/rooms/init/", "Rooms"),
        ("/thywill/tictactoe/init/", "Tic-tac-toe"),
        ("/thywill/reloads/init/", "Reloads"),
    ]
    assert EchoApplication.description in html
    assert ChatApplication.description in html
    assert '<a href="/thywill/chat/init/?transport=longpoll">longpoll</a>' in html
    assert '<a href="/together/">' in html


async def test_an_application_added_to_settings_appears(settings):
    """Nothing but THYWILL_APPLICATIONS decides what the page lists."""
    settings.THYWILL_APPLICATIONS = {
        "lobby": {"BACKEND": "tests.apps.rooms.RoomsApplication", "OPTIONS": {}},
    }
    html = (await AsyncClient().get("/")).content.decode()
    assert LINK.findall(html) == [("/thywill/lobby/init/", "Rooms")]
    assert "<p></p>" not in html  # the rooms application has no description


@pytest.mark.django_db(transaction=True)
def test_the_together_page_has_a_client_of_echo_and_one_of_chat():
    """/together/ is a page of the site with two clients on it, and its own script."""
    response = Client().get("/together/")
    assert response.status_code == 200
    html = response.content.decode()
    assert re.findall(r'<script id="(thywill-config[\w-]*)"', html) == [
        "thywill-config-echo",
        "thywill-config-chat",
    ]
    assert html.count("/static/thywill/thywill.js") == 1
    assert re.search(
        r'<script src="/static/thywill_server/together.js" nonce="[\w-]+" defer></script>',
        html,
    )
