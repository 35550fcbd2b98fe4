"""The chat application in a real Chromium: two people, each in a browser of their own
(own profile, so own session), driving the page as a person would, over each transport.

The two browsers are started once for the module and load a fresh page for each test. The
tests run on Daphne only: the chat adds nothing transport- or server-specific of its own,
and every live server is already tested on Daphne and uvicorn by the other suites.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from tests.e2e.conftest import BROWSERS_KEY, BYE_BOUND, Browsers, wait_connected, wait_for
from tests.live import LiveServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.parametrize("live_factory", ["daphne"], indirect=True),
]

TRANSPORTS = ["websocket", "sse", "longpoll"]

STEP = "document.getElementById('thywill-app').dataset.step"
PEOPLE = "[...document.querySelectorAll('#chat-people li')].map((li) => li.textContent)"
MESSAGES = (
    "[...document.querySelectorAll('#chat-log li.chat-message')].map((li) =>"
    " li.querySelector('.chat-author').textContent + ': '"
    " + li.querySelector('.chat-text').textContent)"
)
NOTICES = (
    "[...document.querySelectorAll('#chat-log li.chat-notice')].map((li) => li.textContent)"
)
ROOMS = "[...document.querySelectorAll('#chat-room-list button')].map((b) => b.textContent)"
FORGET_JS = "try { sessionStorage.clear(); localStorage.clear(); } catch (e) {}"


@pytest.fixture(scope="module")
def two_browsers(chromium: None) -> Iterator[Browsers]:
    """Alice's browser and Bob's, for the whole module."""
    browsers = Browsers()
    browsers()
    browsers()
    yield browsers
    browsers.quit_all()


@pytest.fixture
def people(
    two_browsers: Browsers, live: LiveServer, live_url: str, request: pytest.FixtureRequest
) -> tuple[WebDriver, WebDriver]:
    """Alice's and Bob's browsers, with nothing remembered from an earlier test."""
    request.node.stash[BROWSERS_KEY] = two_browsers  # their logs, should the test fail
    if live not in two_browsers.servers:
        two_browsers.servers.append(live)
    alice, bob = two_browsers.drivers
    for driver in (alice, bob):
        driver.execute_script(FORGET_JS)  # the nickname and room a page remembers
    return alice, bob


def open_chat(driver: WebDriver, server: LiveServer, transport: str | None) -> None:
    """Load the chat page (on a forced transport) and wait until it is connected."""
    query = f"?transport={transport}" if transport else ""
    driver.get(f"{server.url}/thywill/chat/init/{query}")
    wait_connected(driver)
    if transport:
        assert driver.execute_script("return thywill.transport") == transport


def submit(driver: WebDriver, form: str, text: str) -> None:
    """Type ``text`` into one of the page's forms and press its button."""
    field = driver.find_element(By.ID, f"{form}-input")
    field.clear()
    field.send_keys(text)
    driver.find_element(By.CSS_SELECTOR, f"#{form}-form button[type=submit]").click()


def wait_equal(driver: WebDriver, expression: str, expected: Any, what: str) -> None:
    """Wait until the JavaScript ``expression`` is ``expected`` (compared as JSON)."""
    __tracebackhide__ = True
    wanted = json.dumps(json.dumps(expected, separators=(",", ":")))
    try:
        wait_for(driver, f"JSON.stringify({expression}) === {wanted}", what=what)
    except pytest.fail.Exception:
        actual = driver.execute_script(f"return {expression}")
        pytest.fail(f"{what}: still {actual!r}, expected {expected!r}")


def choose_nickname(driver: WebDriver, nick: str) -> None:
    wait_equal(driver, STEP, "nick", "the nickname step")
    submit(driver, "chat-nick", nick)
    wait_equal(driver, STEP, "rooms", "the rooms step")
    assert driver.find_element(By.ID, "chat-me").text == nick


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_two_people_chat_in_a_room_and_see_who_is_there(
    people: tuple[WebDriver, WebDriver], live: LiveServer, transport: str
) -> None:
    """Alice makes a room, Bob sees it appear and joins; both see both, talk, and see
    Bob leave. A refusal of the server's pipe is shown under the form."""
    alice, bob = people
    room = f"Tea over {transport}"
    for driver, nick in ((alice, "Alice"), (bob, "Bob")):
        open_chat(driver, live, transport)
        choose_nickname(driver, nick)

    submit(alice, "chat-create", room)
    wait_equal(alice, STEP, "room", "Alice in her room")
    assert alice.find_element(By.ID, "chat-room-name").text == room
    wait_equal(alice, PEOPLE, ["Alice"], "Alice alone")
    wait_for(
        bob, f"{ROOMS}.includes({json.dumps(room)})", what="the new room on Bob's list"
    )
    bob.find_element(By.CSS_SELECTOR, f"#chat-room-list button[data-room='{room}']").click()
    wait_equal(bob, STEP, "room", "Bob in the room")
    for driver in (alice, bob):
        wait_equal(driver, PEOPLE, ["Alice", "Bob"], "both listed")
    wait_equal(alice, NOTICES, ["Bob joined"], "Alice told of Bob")

    submit(alice, "chat-say", "  Hello Bob  ")
    for driver in (alice, bob):
        wait_equal(driver, MESSAGES, ["Alice: Hello Bob"], "Alice's message")
    submit(bob, "chat-say", "Hi Alice")
    for driver in (alice, bob):
        wait_equal(driver, MESSAGES, ["Alice: Hello Bob", "Bob: Hi Alice"], "both messages")
    assert bob.find_element(By.ID, "chat-say-input").get_attribute("value") == ""

    submit(bob, "chat-say", "   ")
    wait_equal(
        bob,
        "document.getElementById('chat-say-error').textContent",
        "A message cannot be empty.",
        "the pipe's reason shown to Bob",
    )
    assert bob.find_element(By.ID, "chat-say-error").is_displayed()

    bob.find_element(By.ID, "chat-leave").click()
    wait_equal(bob, STEP, "rooms", "Bob back at the rooms")
    wait_equal(alice, PEOPLE, ["Alice"], "Bob gone from Alice's list")
    wait_equal(alice, NOTICES, ["Bob joined", "Bob left"], "Alice told Bob left")
    for driver in (alice, bob):
        assert driver.execute_script("return thywill.state") == "connected"


def test_a_reloaded_page_is_back_in_its_room_and_a_newcomer_sees_the_history(
    people: tuple[WebDriver, WebDriver], live: LiveServer
) -> None:
    """Reloading puts Alice back in her room with its messages, listed once (her old
    page stays a member until its lease lapses); Bob, arriving, sees what was said."""
    alice, bob = people
    open_chat(alice, live, None)
    choose_nickname(alice, "Alice")
    submit(alice, "chat-create", "Library")
    wait_equal(alice, STEP, "room", "Alice in the library")
    for text in ("first", "second"):
        submit(alice, "chat-say", text)
    wait_equal(alice, MESSAGES, ["Alice: first", "Alice: second"], "Alice's messages")
    first_client = alice.execute_script("return thywill.clientId")

    alice.refresh()
    wait_connected(alice)
    assert alice.execute_script("return thywill.clientId") != first_client
    wait_equal(alice, STEP, "room", "Alice back in the library")
    assert alice.find_element(By.ID, "chat-room-name").text == "Library"
    assert alice.find_element(By.ID, "chat-me").text == "Alice"
    wait_equal(alice, MESSAGES, ["Alice: first", "Alice: second"], "the history again")
    wait_equal(alice, PEOPLE, ["Alice"], "Alice listed once")

    open_chat(bob, live, None)
    choose_nickname(bob, "Bob")
    wait_for(bob, f"{ROOMS}.includes('Library')", what="the library on Bob's list")
    bob.find_element(By.CSS_SELECTOR, "#chat-room-list button[data-room='Library']").click()
    wait_equal(bob, MESSAGES, ["Alice: first", "Alice: second"], "the history for Bob")
    wait_equal(bob, PEOPLE, ["Alice", "Bob"], "both listed for Bob")
    wait_equal(alice, PEOPLE, ["Alice", "Bob"], "both listed for Alice")


def test_two_windows_of_one_browser_get_their_own_nicknames_and_a_closed_one_leaves(
    people: tuple[WebDriver, WebDriver], live: LiveServer
) -> None:
    """Alice's second window starts as Alice 2, not Alice again; both are listed in the
    room. Closed, the second window says bye: it leaves the list within seconds
    (BYE_GRACE, 5 s, and one sweep, at most 5 s), not when its presence lease lapses (a
    minute on this server)."""
    alice, _ = people
    open_chat(alice, live, None)
    choose_nickname(alice, "Alice")
    submit(alice, "chat-create", "Two windows")
    wait_equal(alice, STEP, "room", "Alice in her room")
    first = alice.current_window_handle

    alice.switch_to.new_window("window")
    open_chat(alice, live, None)
    wait_equal(alice, STEP, "rooms", "the second window named by itself")
    assert alice.find_element(By.ID, "chat-me").text == "Alice 2"
    alice.find_element(
        By.CSS_SELECTOR, "#chat-room-list button[data-room='Two windows']"
    ).click()
    wait_equal(alice, PEOPLE, ["Alice", "Alice 2"], "both windows listed")
    alice.close()

    alice.switch_to.window(first)
    wait_for(
        alice,
        f"JSON.stringify({PEOPLE}) === '[\"Alice\"]'",
        timeout=BYE_BOUND,
        what=f"the closed window gone from the list within {BYE_BOUND} s",
    )
    wait_equal(alice, NOTICES, ["Alice 2 joined", "Alice 2 left"], "told of both")


def test_the_room_buttons_look_like_buttons_not_fields(
    people: tuple[WebDriver, WebDriver], live: LiveServer
) -> None:
    """A room button is tinted, without a field's border, unlike the text field."""
    alice, _ = people
    open_chat(alice, live, None)
    choose_nickname(alice, "Alice")
    style = (
        "const s = getComputedStyle(document.querySelector(arguments[0]));"
        "return [s.backgroundColor, s.borderTopStyle, s.cursor]"
    )
    room = alice.execute_script(style, "#chat-room-list button")
    field = alice.execute_script(style, "#chat-create-input")
    assert room[1:] == ["none", "pointer"]
    assert room[0] != field[0]
    assert field[1] == "solid"
