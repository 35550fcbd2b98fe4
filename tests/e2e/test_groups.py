"""Groups and hook rules in a real Chromium: a room message reaches two pages, and a
hook script's fail(reason) rejects the send() Promise with its reason."""

from __future__ import annotations

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver

from tests.e2e.conftest import Browsers, record_messages, wait_connected, wait_for
from tests.live import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.live]

SEND_JS = """
const done = arguments[arguments.length - 1];
thywill.send(arguments[0]).then(
  (value) => done({resolved: value === undefined ? null : value}),
  (error) => done({rejected: {
    code: error.code, message: error.message, name: error.name}}));
"""


def open_rooms(browser: Browsers, server: LiveServer, transport: str) -> WebDriver:
    """A new browser on the rooms application, connected, recording what it receives."""
    if server not in browser.servers:
        browser.servers.append(server)
    driver = browser()
    driver.get(f"{server.url}/thywill/rooms/init/?transport={transport}")
    wait_connected(driver)
    record_messages(driver)
    return driver


def send(driver: WebDriver, data: object) -> dict:
    """thywill.send(data) in the page; what its Promise settled with."""
    outcome: dict = driver.execute_async_script(SEND_JS, data)
    return outcome


@pytest.mark.parametrize("transport", ["sse", "longpoll"])
def test_room_message_reaches_two_pages_and_fail_rejects_send(
    browser: Browsers, live: LiveServer, live_url: str, transport: str
) -> None:
    """Two pages join a room; one says hello, both get it; a forbidden word is refused."""
    alice, bob = (open_rooms(browser, live, transport) for _ in range(2))
    for driver in (alice, bob):
        assert "resolved" in send(driver, {"type": "room.join", "room": "e2e"})
    wait_for(
        alice, "e2e.received.some((d) => d.type === 'thywill.join')", what="bob joined"
    )

    assert "resolved" in send(alice, {"type": "room.say", "room": "e2e", "text": "hello"})
    for driver in (alice, bob):
        wait_for(driver, "e2e.received.some((d) => d.text === 'hello')", what="hello")

    refused = send(bob, {"type": "room.say", "room": "e2e", "text": "forbidden word"})
    assert refused == {
        "rejected": {
            "code": "failed",
            "message": "That word is not allowed here.",
            "name": "ThywillError",
        }
    }
    assert "resolved" in send(bob, {"type": "room.say", "room": "e2e", "text": "after"})
    for driver in (alice, bob):
        wait_for(driver, "e2e.received.some((d) => d.text === 'after')", what="after")
        texts = driver.execute_script(
            "return e2e.received.filter((d) => d.text).map((d) => d.text)"
        )
        assert texts == ["hello", "after"]
    assert alice.execute_script("return thywill.state") == "connected"
