"""The start page at the site's root: every configured application, linked."""

from __future__ import annotations

import re

from django.test import AsyncClient

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
    ]
    assert EchoApplication.description in html
    assert ChatApplication.description in html
    assert '<a href="/thywill/chat/init/?transport=longpoll">longpoll</a>' in html


async def test_an_application_added_to_settings_appears(settings):
    """Nothing but THYWILL_APPLICATIONS decides what the page lists."""
    settings.THYWILL_APPLICATIONS = {
        "lobby": {"BACKEND": "tests.apps.rooms.RoomsApplication", "OPTIONS": {}},
    }
    html = (await AsyncClient().get("/")).content.decode()
    assert LINK.findall(html) == [("/thywill/lobby/init/", "Rooms")]
    assert "<p></p>" not in html  # the rooms application has no description
