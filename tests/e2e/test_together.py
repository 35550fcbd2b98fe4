"""Two applications on one page of the site (/together/, ``{% thywill_client %}`` twice),
each connected with ``thywill.connect(name)``, in real Chromium browsers, on Daphne."""

from __future__ import annotations

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from tests.e2e.conftest import Browsers, wait_for
from tests.live import LiveServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.parametrize("live_factory", ["daphne"], indirect=True),
]

BOTH_CONNECTED = (
    "document.getElementById('echo-state').dataset.state === 'connected'"
    " && document.getElementById('chat-state').dataset.state === 'connected'"
)
ECHOED = "[...document.querySelectorAll('#echo-log li')].map((li) => li.textContent)"
SAID = "[...document.querySelectorAll('#chat-log li.said')].map((li) => li.textContent)"
IN_THE_ROOM = "!document.getElementById('chat-say-form').hidden"


def open_together(browser: Browsers, server: LiveServer) -> WebDriver:
    """A new browser on /together/, once both of its clients are connected."""
    driver = browser()
    if server not in browser.servers:
        browser.servers.append(server)
    driver.get(f"{server.url}/together/")
    wait_for(driver, BOTH_CONNECTED, what="the echo and chat clients connected")
    return driver


def submit(driver: WebDriver, field: str, text: str) -> None:
    """Type ``text`` into one of the page's inputs and submit its form."""
    element = driver.find_element(By.ID, field)
    element.send_keys(text)
    element.submit()


def test_one_page_talks_to_echo_and_to_chat(
    browser: Browsers, live: LiveServer, live_url: str
) -> None:
    """On a page that is not a bootstrap page, two clients of two applications connect,
    the echo comes back to its tab, and what is said in the chat reaches another
    browser's page."""
    ada = open_together(browser, live)
    bob = open_together(browser, live)
    echo_id, chat_id = ada.execute_script(
        "return [together.echo.clientId, together.chat.clientId]"
    )
    assert echo_id != chat_id
    assert ada.execute_script(
        "return [together.echo.config.application, together.chat.config.application]"
    ) == ["echo", "chat"]

    submit(ada, "echo-text", "ping")
    assert wait_for(ada, f"{ECHOED}.includes('ping') && {ECHOED}", what="the echo")

    submit(ada, "chat-nick", "ada")
    submit(bob, "chat-nick", "bob")
    wait_for(ada, IN_THE_ROOM, what="ada in the Lobby")
    wait_for(bob, IN_THE_ROOM, what="bob in the Lobby")
    submit(ada, "chat-text", "hello, both of you")
    wait_for(
        bob,
        f"{SAID}.includes('ada: hello, both of you')",
        what="bob hears ada in the chat",
    )
    # The echo client did not hear the chat, nor the chat client the echo.
    assert ada.execute_script(f"return {ECHOED}") == ["ping"]
    assert ada.execute_script(f"return {SAID}") == ["ada: hello, both of you"]
