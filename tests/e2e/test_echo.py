"""The echo application in a real Chromium, once per forced transport, against Daphne."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from tests.e2e.conftest import (
    Browsers,
    record_messages,
    send_texts,
    texts_received,
    wait_connected,
    wait_for,
)
from tests.live import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.live]

TRANSPORTS = ["websocket", "sse", "longpoll"]
ROUND_TRIPS = 200
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{22}")
HISTORY_LOST = "Some messages were lost before they could be delivered. (history_lost)"
SESSION_MISMATCH = "The token belongs to another session. (session_mismatch)"

# Installed before any script of the page runs: the paths of every fetch() the page makes
# and of every WebSocket it opens.
FETCH_SPY_JS = """
window.e2eFetches = [];
const realFetch = window.fetch;
window.fetch = function (input, init) {
  const url = typeof input === 'string' ? input : input.url;
  window.e2eFetches.push(new URL(url, location.href).pathname);
  return realFetch.apply(this, arguments);
};
const RealWebSocket = window.WebSocket;
window.WebSocket = function (url, protocols) {
  window.e2eFetches.push(new URL(url).pathname);
  return new RealWebSocket(url, protocols);
};
"""

FETCH_JS = """
const done = arguments[arguments.length - 1];
fetch(arguments[0]).then(async (response) => done([response.status, await response.json()]),
                         (error) => done(['failed', String(error)]));
"""

SEND_ONE_JS = """
const done = arguments[arguments.length - 1];
thywill.send(arguments[0]).then(
  (value) => done({resolved: value === undefined ? null : value}),
  (error) => done({rejected: {code: error.code, message: error.message}}));
"""

STATE_RECORDER_JS = """
window.e2eStates = [];
thywill.onStateChange((state) => e2eStates.push(state));
"""


@pytest.fixture
def server(live: LiveServer, live_url: str) -> LiveServer:
    """The session's shared live server, running."""
    return live


@pytest.fixture(scope="module")
def restartable(live_factory: Callable[..., LiveServer]) -> LiveServer:
    """A server of this module's own, which tests stop and restart at will."""
    return live_factory()


@pytest.fixture
def own_server(restartable: LiveServer) -> LiveServer:
    """The module's restartable server, running (a previous test may have left it down)."""
    if restartable.process is None or restartable.process.poll() is not None:
        restartable.start()
    return restartable


def echo_log(driver: WebDriver) -> list[tuple[str | None, str]]:
    """The echo page's log, as (class, text) pairs."""
    return [
        (item.get_attribute("class"), item.text)
        for item in driver.find_elements(By.CSS_SELECTOR, "#echo-log > li")
    ]


def session_of(driver: WebDriver) -> str:
    """The browser's Django session key (its cookie)."""
    cookie = driver.get_cookie("sessionid")
    assert cookie is not None
    return str(cookie["value"])


def banner_text(driver: WebDriver) -> str:
    """The text of thywill's visible error banner (without its dismiss button)."""
    banner = driver.find_element(By.CSS_SELECTOR, "div.thywill-error")
    assert banner.is_displayed()
    return str(driver.execute_script("return arguments[0].firstChild.textContent", banner))


def submit_through_form(driver: WebDriver, text: str) -> None:
    """Type ``text`` into the echo input and press its Send button, as a user would."""
    field = driver.find_element(By.ID, "echo-input")
    field.send_keys(text)
    driver.find_element(By.CSS_SELECTOR, "#echo-form button[type=submit]").click()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_page_boots_connected_with_the_echo_ui(
    browser: Browsers, server: LiveServer, transport: str
) -> None:
    """The bootstrap page connects on the forced transport and shows the echo UI."""
    driver = browser.open(server, transport)
    wait_connected(driver)

    client = driver.execute_script(
        "return {state: thywill.state, transport: thywill.transport,"
        " application: thywill.application, clientId: thywill.clientId,"
        " stats: Object.assign({}, thywill.stats)}"
    )
    client_id = client.pop("clientId")
    assert client == {
        "state": "connected",
        "transport": transport,
        "application": "echo",
        "stats": {"received": 0, "resets": 0, "sent": 0},
    }
    assert CLIENT_ID.fullmatch(client_id), client_id
    assert driver.title == "Echo · thywill"
    status = driver.find_element(By.ID, "echo-status")
    assert (status.text, status.get_attribute("data-state")) == (
        f"Status: connected ({transport})",
        "connected",
    )
    assert driver.find_element(By.ID, "echo-input").is_displayed()
    assert driver.find_element(By.CSS_SELECTOR, "#echo-form button").is_enabled()
    assert echo_log(driver) == []
    assert driver.find_elements(By.CSS_SELECTOR, ".thywill-error") == []


@pytest.mark.timeout(90)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_messages_round_trip_in_order_exactly_once(
    browser: Browsers, server: LiveServer, transport: str
) -> None:
    """200 messages sent at once come back once each, in order, and so does a typed one."""
    driver = browser.open(server, transport)
    wait_connected(driver)
    record_messages(driver)
    client_id = driver.execute_script("return thywill.clientId")
    texts = [f"m{i}" for i in range(ROUND_TRIPS)]

    send_texts(driver, texts)
    wait_for(
        driver,
        f"e2e.received.length >= {ROUND_TRIPS}"
        f" && e2e.sends.length + e2e.errors.length >= {ROUND_TRIPS}",
        timeout=60,
        what=f"{ROUND_TRIPS} echoes and {ROUND_TRIPS} send results",
    )

    assert texts_received(driver) == texts
    # echo's handler returns nothing: each send resolves with no value (null here).
    assert driver.execute_script("return e2e.sends") == [None] * ROUND_TRIPS
    assert driver.execute_script("return e2e.errors") == []
    meta = driver.execute_script("return e2e.meta")
    assert [m["channel"] for m in meta] == [f"client:{client_id}"] * ROUND_TRIPS
    assert len({m["id"] for m in meta}) == ROUND_TRIPS
    # Over WebSocket the sends went over the socket: the page never POSTed one.
    posts = driver.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/thywill/send/')).length"
    )
    assert (posts == 0) == (transport == "websocket")

    # Then once through the real form: it comes back last, after nothing else.
    submit_through_form(driver, "typed by hand")
    wait_for(driver, f"e2e.received.length > {ROUND_TRIPS}", what="the typed echo")
    assert texts_received(driver) == [*texts, "typed by hand"]
    assert echo_log(driver) == [("echo-message", t) for t in [*texts, "typed by hand"]]
    assert driver.find_element(By.ID, "echo-input").get_attribute("value") == ""
    assert driver.execute_script("return Object.assign({}, thywill.stats)") == {
        "received": ROUND_TRIPS + 1,
        "resets": 0,
        "sent": ROUND_TRIPS + 1,
    }


@pytest.mark.parametrize("other", ["other-browser", "same-browser-window"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_second_tab_never_sees_the_first_tabs_echoes(
    browser: Browsers, server: LiveServer, transport: str, other: str
) -> None:
    """Echoes reach the sending tab only, whether another tab shares its session or not."""
    driver_a = browser.open(server, transport)
    tab_a = driver_a.current_window_handle
    wait_connected(driver_a)
    record_messages(driver_a)
    if other == "other-browser":
        driver_b = browser.open(server, transport)
    else:
        driver_b = driver_a
        driver_b.switch_to.new_window("window")
        browser.open(server, transport, driver_b)
    tab_b = driver_b.current_window_handle
    wait_connected(driver_b)  # B listens before A sends
    record_messages(driver_b)
    id_b = driver_b.execute_script("return thywill.clientId")
    same_session = session_of(driver_a) == session_of(driver_b)
    assert same_session is (other == "same-browser-window")

    driver_a.switch_to.window(tab_a)
    id_a = driver_a.execute_script("return thywill.clientId")
    assert id_a != id_b
    texts = [f"from A {i}" for i in range(20)]
    send_texts(driver_a, texts)
    wait_for(driver_a, "e2e.received.length >= 20", what="A's 20 echoes")
    assert texts_received(driver_a) == texts

    # Settling without sleeping: B now sends one probe and waits for its echo. Anything of
    # A's wrongly written to B's channel was written before the probe (A had all its echoes
    # back), so it would reach B before the probe's echo, on the same stream.
    driver_b.switch_to.window(tab_b)
    send_texts(driver_b, ["probe from B"])
    wait_for(driver_b, "e2e.received.length >= 1", what="B's probe echo")
    assert texts_received(driver_b) == ["probe from B"]
    assert echo_log(driver_b) == [("echo-message", "probe from B")]

    # The same the other way: A's own probe comes back after anything of B's would have.
    driver_a.switch_to.window(tab_a)
    send_texts(driver_a, ["probe from A"])
    wait_for(driver_a, "e2e.received.length > 20", what="A's probe echo")
    assert texts_received(driver_a) == [*texts, "probe from A"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_forced_transport_is_the_only_one_used(
    browser: Browsers, server: LiveServer, transport: str
) -> None:
    """With ?transport= forced, the config says so and the page uses only that endpoint."""
    driver = browser()
    driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": FETCH_SPY_JS}
    )
    browser.open(server, transport, driver)
    wait_connected(driver)
    if transport == "longpoll":  # the first poll answers at once; wait for the next one
        wait_for(driver, "e2eFetches.length >= 2", what="a second long-poll")

    config = driver.execute_script(
        "return JSON.parse(document.getElementById('thywill-config').textContent)"
    )
    assert (config["forcedTransport"], config["transports"]) == (
        transport,
        ["websocket", "sse", "longpoll"],
    )
    assert set(driver.execute_script("return e2eFetches")) == {f"/thywill/{transport}/"}


def test_an_unknown_transport_is_refused_with_400(
    browser: Browsers, server: LiveServer
) -> None:
    """?transport=bogus answers 400 bad_transport with the protocol's JSON error."""
    driver = browser.open(server, None)
    wait_connected(driver)

    answer = driver.execute_async_script(FETCH_JS, "/thywill/init/?transport=bogus")

    assert answer == [
        400,
        {
            "error": {
                "code": "bad_transport",
                "message": "Unknown transport 'bogus'; enabled: websocket, sse, longpoll.",
            }
        },
    ]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_client_reconnects_after_a_server_restart_and_reports_the_reset(
    browser: Browsers, own_server: LiveServer, transport: str
) -> None:
    """After a restart the page reconnects by itself, reports lost history, echoes again."""
    driver = browser.open(own_server, transport)
    wait_connected(driver)
    record_messages(driver)
    driver.execute_script(STATE_RECORDER_JS)
    send_texts(driver, ["before"])
    wait_for(driver, "e2e.received.length === 1", what="the echo before the restart")

    own_server.restart()  # the in-memory push backend forgets every channel
    wait_for(
        driver,
        "thywill.stats.resets >= 1 && thywill.state === 'connected'",
        timeout=30,
        what="reconnected with a reset",
    )

    assert driver.execute_script("return e2eStates") == ["reconnecting", "connected"]
    assert driver.execute_script("return thywill.stats.resets") == 1
    # echo has no onReset handler, so the loss reaches the user through the banner.
    assert banner_text(driver) == HISTORY_LOST
    send_texts(driver, ["after"])
    wait_for(driver, "e2e.received.length === 2", what="the echo after the restart")
    assert texts_received(driver) == ["before", "after"]
    assert driver.execute_script("return [e2e.sends, e2e.errors]") == [
        [None, None],
        [],
    ]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_refused_token_closes_the_client_and_is_shown_to_the_user(
    browser: Browsers, own_server: LiveServer, transport: str
) -> None:
    """When the session is gone the server's refusal is final and echo's page shows it."""
    driver = browser.open(own_server, transport)
    wait_connected(driver)
    driver.execute_script(STATE_RECORDER_JS)

    driver.delete_all_cookies()  # the token's session is no longer the browser's
    own_server.restart()  # forces the client to reconnect, now without a session
    wait_for(driver, "thywill.state === 'closed'", timeout=30, what="closed")

    # A long-poll the restarting server answered (its drain) is followed by one that is
    # refused at once: the client may close without passing through "reconnecting".
    states = driver.execute_script("return e2eStates")
    assert states in (["reconnecting", "closed"], ["closed"]), states
    # echo registers no onError handler, so thywill's own banner reports the refusal.
    assert banner_text(driver) == SESSION_MISMATCH
    status = driver.find_element(By.ID, "echo-status")
    assert (status.text, status.get_attribute("data-state")) == (
        f"Status: closed ({transport})",
        "closed",
    )
    assert not driver.find_element(By.CSS_SELECTOR, "#echo-form button").is_enabled()
    assert driver.execute_async_script(SEND_ONE_JS, {"text": "too late"}) == {
        "rejected": {
            "code": "session_mismatch",
            "message": "The token belongs to another session.",
        }
    }


LONG_MESSAGE_JS = """
document.getElementById('echo-input').value = 'a'.repeat(arguments[0]);
document.querySelector('#echo-form button[type=submit]').click();
"""

REFUSED_JS = """
const item = document.querySelector('#echo-log li.echo-failed');
const reason = item.querySelector('.echo-reason').getBoundingClientRect();
return {
  parts: [...item.children].map((part) => [part.className, part.textContent]),
  height: item.getBoundingClientRect().height,
  reasonInView: reason.top >= 0 && reason.bottom <= window.innerHeight,
  window: window.innerHeight,
};
"""


def test_a_refused_long_message_shows_the_reason_first_and_is_cut(
    browser: Browsers, server: LiveServer
) -> None:
    """100,000 characters are over the size limit: the reason comes first and in view,
    then the message's first 200 characters and its length, in a line, not screens."""
    driver = browser.open(server, None)
    wait_connected(driver)
    driver.execute_script(LONG_MESSAGE_JS, 100_000)
    wait_for(driver, "document.querySelector('#echo-log li.echo-failed')")

    refused = driver.execute_script(REFUSED_JS)
    [(reason_class, reason), text, length] = refused["parts"]
    assert reason_class == "echo-reason"
    assert reason.startswith("Not sent: The message takes ")
    assert reason.endswith(" bytes to send; the limit is 65536.")
    assert text == ["echo-text", "a" * 200 + "\u2026"]
    assert length == ["echo-length", "100,000 characters in all"]
    assert refused["reasonInView"]
    assert refused["height"] < refused["window"] / 2
    assert driver.execute_script("return thywill.stats.sent") == 0


def test_an_empty_message_says_why_it_is_not_sent(
    browser: Browsers, server: LiveServer
) -> None:
    """Blank text is not sent, and the page says why; the next message clears it."""
    driver = browser.open(server, None)
    wait_connected(driver)
    submit_through_form(driver, "   ")
    error = driver.find_element(By.ID, "echo-error")
    wait_for(
        driver,
        "document.getElementById('echo-error').textContent"
        " === 'A message cannot be empty: type something first.'",
        what="the reason under the form",
    )
    assert error.is_displayed()
    assert echo_log(driver) == []
    assert driver.execute_script("return thywill.stats.sent") == 0

    driver.find_element(By.ID, "echo-input").clear()
    submit_through_form(driver, "hello")
    wait_for(driver, "document.querySelectorAll('#echo-log li.echo-message').length === 1")
    assert echo_log(driver) == [("echo-message", "hello")]
    assert error.text == "" and not error.is_displayed()
