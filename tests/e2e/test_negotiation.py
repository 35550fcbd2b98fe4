"""The client finds its way through hostile proxies, and survives cut connections.

A ``TestProxy`` (tests/support/proxy.py) stands between Chromium and the live server:
one refuses WebSocket upgrades, one also buffers event streams, one cuts every connection
in the middle of a stream. No message may be lost or repeated on the way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from tests.e2e.conftest import (
    RECORDER_JS,
    Browsers,
    send_texts,
    texts_received,
    wait_connected,
    wait_for,
)
from tests.live import LiveServer
from tests.support.proxy import TestProxy, proxy_to

pytestmark = [pytest.mark.browser, pytest.mark.live]

# Installed before the page's scripts: once they have all run (DOMContentLoaded), record
# what the page receives and send the first messages, whatever the client is doing then.
EARLY_SENDS_JS = """
document.addEventListener('DOMContentLoaded', () => {
  %s
  e2e.states = [];
  thywill.onStateChange((state) => e2e.states.push(state));
  e2e.sentWhile = [thywill.state, thywill.transport];
  for (let i = 0; i < %d; i += 1) {
    thywill.send({text: 'early' + i}).then(
      (value) => e2e.sends.push(value === undefined ? null : value),
      (error) => e2e.errors.push({code: error.code, message: error.message}));
  }
});
"""
EARLY = 10
EARLY_TEXTS = [f"early{i}" for i in range(EARLY)]

# Sends `count` messages one every `interval` ms, so that a cut lands among them.
TRICKLE_JS = """
const [count, interval] = arguments;
let sent = 0;
const timer = setInterval(() => {
  const text = 'm' + sent;
  thywill.send({text}).then(
    (value) => e2e.sends.push(value === undefined ? null : value),
    (error) => e2e.errors.push({code: error.code, message: error.message}));
  sent += 1;
  if (sent === count) {
    clearInterval(timer);
  }
}, interval);
"""
STATE_RECORDER_JS = """
e2e.states = [];
thywill.onStateChange((state) => e2e.states.push(state));
"""


@pytest.fixture
def server(live: LiveServer, live_url: str) -> LiveServer:
    """The session's shared live server, running."""
    return live


def open_through(
    browser: Browsers, server: LiveServer, proxy: TestProxy, query: str = "", early: int = 0
) -> WebDriver:
    """A new browser on the echo page, through ``proxy``; ``early`` sends at page load."""
    browser.servers.append(server)
    driver = browser()
    if early:
        driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument",
            {"source": EARLY_SENDS_JS % (RECORDER_JS, early)},
        )
    driver.get(f"{proxy.url}/thywill/init/{query}")
    return driver


def assert_all_once_in_order(driver: WebDriver, texts: list[str]) -> None:
    """Every text echoed exactly once, in order; every send settled without error."""
    total = len(texts)
    wait_for(
        driver,
        f"e2e.received.length >= {total}"
        f" && e2e.sends.length + e2e.errors.length >= {total}",
        timeout=40,
        what=f"{total} echoes and send results",
    )
    assert driver.execute_script("return e2e.errors") == []
    assert texts_received(driver) == texts
    # A batch resent after a cut may be answered 'duplicate': accepted, and handled once.
    # Either way the send resolves, with no value (echo's handler returns none).
    assert driver.execute_script("return e2e.sends") == [None] * total


def cut_the_transport(driver: WebDriver, proxy: TestProxy, attempts: int = 20) -> None:
    """Cut every connection until one of them was the transport's (it reconnects).

    A long-poll is between two requests now and then, and a cut may then hit only a send;
    it is cut again until the poll itself was hit (each cut must lose nothing either way).
    """
    for _ in range(attempts):
        proxy.cut()
        with contextlib.suppress(TimeoutException):
            WebDriverWait(driver, 1.0, poll_frequency=0.05).until(
                lambda d: d.execute_script("return e2e.states.includes('reconnecting')")
            )
            return
    pytest.fail(f"{attempts} cuts never hit the transport's connection")


@pytest.fixture
def refusing(server: LiveServer) -> Iterator[TestProxy]:
    """A proxy that answers every WebSocket upgrade with 403, after a second."""
    with proxy_to(server.port, refuse_upgrades=True, upgrade_delay=1.0) as proxy:
        yield proxy


@pytest.fixture
def buffering(server: LiveServer) -> Iterator[TestProxy]:
    """A proxy that refuses upgrades and holds event streams back until they end."""
    with proxy_to(server.port, refuse_upgrades=True, buffer_event_streams=True) as proxy:
        yield proxy


@pytest.mark.timeout(90)
def test_behind_a_proxy_that_refuses_upgrades_the_client_ends_on_sse(
    browser: Browsers, server: LiveServer, refusing: TestProxy
) -> None:
    """WebSocket is refused: the client moves to SSE by itself, losing nothing meanwhile."""
    driver = open_through(browser, server, refusing, early=EARLY)
    wait_connected(driver, timeout=20)

    assert driver.execute_script("return [thywill.transport, e2e.sentWhile]") == [
        "sse",
        ["connecting", "websocket"],
    ]
    assert refusing.refused_upgrades >= 1
    send_texts(driver, ["after the switch"])
    assert_all_once_in_order(
        driver, [f"early{i}" for i in range(EARLY)] + ["after the switch"]
    )
    assert driver.execute_script("return e2e.states") == ["connected"]


@pytest.mark.timeout(90)
def test_behind_a_proxy_that_buffers_event_streams_the_client_ends_on_longpoll(
    browser: Browsers, server: LiveServer, buffering: TestProxy
) -> None:
    """WebSocket refused, SSE held back: the client moves to long-poll, losing nothing."""
    driver = open_through(browser, server, buffering, early=EARLY)
    wait_connected(driver, timeout=30)

    transport, sent_while = driver.execute_script(
        "return [thywill.transport, e2e.sentWhile]"
    )
    assert transport == "longpoll"
    assert sent_while[0] == "connecting"
    assert buffering.refused_upgrades >= 1 and buffering.buffered_streams >= 1
    send_texts(driver, ["after the switch"])
    assert_all_once_in_order(
        driver, [f"early{i}" for i in range(EARLY)] + ["after the switch"]
    )


@pytest.mark.timeout(120)
@pytest.mark.parametrize("transport", ["websocket", "sse", "longpoll"])
def test_a_connection_cut_mid_stream_resumes_without_loss_or_duplicates(
    browser: Browsers, server: LiveServer, transport: str
) -> None:
    """The proxy drops every connection while echoes flow: the client resumes exactly."""
    count = 120
    with proxy_to(server.port) as proxy:
        driver = open_through(browser, server, proxy, f"?transport={transport}")
        wait_connected(driver)
        driver.execute_script(RECORDER_JS + STATE_RECORDER_JS)
        driver.execute_script(TRICKLE_JS, count, 15)
        wait_for(driver, "e2e.received.length >= 30", timeout=20, what="30 echoes")

        cut_the_transport(driver, proxy)

        assert_all_once_in_order(driver, [f"m{i}" for i in range(count)])
        wait_connected(driver)  # the last cut may have landed after the last echo
        states = driver.execute_script("return e2e.states")
        assert states[0] == "reconnecting" and states[-1] == "connected", states
        assert driver.execute_script("return thywill.transport") == transport
