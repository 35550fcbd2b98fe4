"""Reloads in a real Chromium: a reloaded page resumes its tab's client, so messages sent
to it while the page reloaded arrive after the reload, once, in order, and the members
of its group hear of no leave and no join (documentation/transports.md, "Reloads").

Alice's reload is held in the gap between pages: while her tab's ``e2e-hold`` flag is
set, a script that runs before her page's own (``HOLD_JS``) fails every fetch and
WebSocket of the page, as a network down would, and holds back what the page posts to
her other tabs over BroadcastChannel (a tab that shares its browser's connection); her
page reloads and Bob sends her 100 messages while no page of hers reads, then the flag
is cleared. The presence lease lasts TTL seconds: the tests wait past it after the
reload, so that a client left behind would have been announced as gone. The tests of a
module share a server, so a page hears the leaves of earlier tests' clients too: what
the tests check is the joins, and the announcements of their own clients.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver

from tests.e2e.conftest import (
    Browsers,
    record_messages,
    wait_connected,
    wait_for,
)
from tests.live import LiveServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.parametrize("live_factory", ["daphne"], indirect=True),
]

TTL = 5.0
"""PRESENCE_TTL of the servers here, in seconds."""
PAST_THE_LEASE = TTL + TTL / 4 + 1.0
"""How long after a reload a client left behind has surely been announced as gone: the
lease, one sweep, and a margin."""
MESSAGES = 100
HOLD_JS = """
(() => {
  const held = () => sessionStorage.getItem('e2e-hold') === '1';
  const realFetch = window.fetch.bind(window);
  window.fetch = (...args) => held()
    ? Promise.reject(new TypeError('held by the test')) : realFetch(...args);
  const Real = window.WebSocket;
  function Held(...args) {
    if (held()) {
      throw new DOMException('held by the test', 'SecurityError');
    }
    return new Real(...args);
  }
  Object.assign(Held, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  Held.prototype = Real.prototype;
  window.WebSocket = Held;
  // A tab that shares its browser's connection speaks to the leading tab over
  // BroadcastChannel: while held, what it posts waits, and goes when the network is back.
  const waiting = [];
  class HeldChannel extends BroadcastChannel {
    postMessage(message) {
      if (held()) {
        waiting.push([this, message]);
      } else {
        super.postMessage(message);
      }
    }
  }
  window.BroadcastChannel = HeldChannel;
  window.addEventListener('online', () => {
    for (const [channel, message] of waiting.splice(0)) {
      channel.postMessage(message);
    }
  });
})();
"""
ANNOUNCED = (
    "e2e.received.filter((d) => d.type === 'thywill.join' || d.type === 'thywill.leave')"
    ".map((d) => [d.type, d.clientId])"
)
APPLICATION_DATA = "e2e.received.filter((d) => !String(d.type).startsWith('thywill.'))"
"""What the page received from the application: the announcements left out."""


def joins_and_of(driver: WebDriver, *clients: str) -> list[list[str]]:
    """The joins the page heard, and the leaves of ``clients``, in order."""
    return [
        [kind, client]
        for kind, client in driver.execute_script(f"return {ANNOUNCED}")
        if kind == "thywill.join" or client in clients
    ]


SEND_JS = """
const done = arguments[arguments.length - 1];
thywill.send(arguments[0]).then(() => done('ok'), (error) => done(error.code));
"""


@pytest.fixture(scope="module")
def resuming(live_factory: Callable[..., LiveServer]) -> LiveServer:
    """A live server whose clients resume across reloads (THYWILL_RESUME's default)."""
    return live_factory(THYWILL_TEST_RESUME="1", THYWILL_TEST_PRESENCE_TTL=str(TTL))


@pytest.fixture(scope="module")
def not_resuming(live_factory: Callable[..., LiveServer]) -> LiveServer:
    """A live server with THYWILL_RESUME = False."""
    return live_factory(THYWILL_TEST_PRESENCE_TTL=str(TTL))


def page_url(server: LiveServer, transport: str) -> str:
    return f"{server.url}/thywill/reloads/init/?transport={transport}"


def open_page(
    browser: Browsers, server: LiveServer, transport: str, driver: WebDriver | None = None
) -> WebDriver:
    """The reloads application's page, connected, recording what it receives."""
    if server not in browser.servers:
        browser.servers.append(server)
    driver = driver if driver is not None else browser()
    driver.get(page_url(server, transport))
    wait_connected(driver)
    record_messages(driver)
    return driver


def hold(driver: WebDriver, held: bool) -> None:
    """Make the tab's pages fail (or no longer fail) their fetches and WebSockets."""
    if held:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOLD_JS})
        driver.execute_script("sessionStorage.setItem('e2e-hold', '1')")
    else:
        driver.execute_script("sessionStorage.removeItem('e2e-hold')")


def client_id(driver: WebDriver) -> str:
    value: str = driver.execute_script("return thywill.clientId")
    return value


def two_in_the_hall(
    browser: Browsers, server: LiveServer, transport: str
) -> tuple[WebDriver, WebDriver]:
    """Alice, then Bob, each in a browser of their own; Alice has heard Bob join."""
    alice = open_page(browser, server, transport)
    bob = open_page(browser, server, transport)
    wait_for(alice, "e2e.received.some((d) => d.type === 'thywill.join')", what="bob")
    return alice, bob


def reload_while_sent_to(alice: WebDriver, bob: WebDriver) -> float:
    """Reload Alice's page while Bob sends MESSAGES messages to her client, the one her
    page had; return when the reload began."""
    to = client_id(alice)
    hold(alice, True)
    began = time.monotonic()
    alice.refresh()
    if alice.execute_script("return thywill.sharing") != "member":
        # (A member shows its leader's connection, which other tabs keep connected.)
        assert alice.execute_script("return thywill.state") != "connected"
    record_messages(alice)  # nothing can be delivered before: the page is held
    sent = bob.execute_async_script(SEND_JS, {"to": to, "n": MESSAGES})
    assert sent == "ok"
    hold(alice, False)
    # The network is back: reconnect now rather than after the backoff.
    alice.execute_script("window.dispatchEvent(new Event('online'))")
    return began


def reload_and_resume(alice: WebDriver, bob: WebDriver) -> None:
    """Reload Alice's page while Bob sends her client MESSAGES messages: all arrive after
    the reload, once, in order, to the same client, resumed; and past the lease of a
    client that would have been left behind, Bob heard no leave and no join."""
    before = client_id(alice)
    heard = joins_and_of(bob, before)
    began = reload_while_sent_to(alice, bob)
    assert client_id(alice) == before
    assert alice.execute_script("return thywill.resumed") is True
    wait_for(alice, f"e2e.received.length >= {MESSAGES}", what="the messages")
    time.sleep(max(0.0, began + PAST_THE_LEASE - time.monotonic()))
    assert alice.execute_script(f"return {APPLICATION_DATA}") == [
        {"n": n} for n in range(1, MESSAGES + 1)
    ]
    assert alice.execute_script("return thywill.state") == "connected"
    assert joins_and_of(bob, before) == heard


@pytest.mark.parametrize("transport", ["websocket", "sse", "longpoll"])
def test_a_reload_resumes_losing_nothing_and_announcing_nothing(
    browser: Browsers, resuming: LiveServer, transport: str
) -> None:
    """All 100 messages sent during the reload arrive after it, once, in order, to the
    same client; its connect event did not run again (no welcome), and Bob heard of no
    leave and no join, past the lease of a client that would have been left behind."""
    alice, bob = two_in_the_hall(browser, resuming, transport)
    reload_and_resume(alice, bob)


@pytest.mark.parametrize("transport", ["websocket", "sse"])
@pytest.mark.parametrize("reloading", ["leader", "member"])
def test_a_tab_that_shares_the_connection_reloads_losing_nothing(
    browser: Browsers, resuming: LiveServer, transport: str, reloading: str
) -> None:
    """Alice has two tabs, sharing one connection: one leads and holds it, the other is a
    member. One of them reloads while Bob sends its client 100 messages: all arrive
    after the reload, once, in order, to the same client, and Bob heard no leave and no
    join. The other tab got none of them and stayed connected. When the leader reloads,
    the member leads in its place and the reloaded tab joins it."""
    alice, bob = two_in_the_hall(browser, resuming, transport)
    first = alice.current_window_handle
    alice.switch_to.new_window("tab")
    alice.get(page_url(resuming, transport))
    wait_connected(alice)
    record_messages(alice)
    second = alice.current_window_handle
    assert alice.execute_script("return thywill.sharing") == "member"
    wait_for(
        bob,
        f"{ANNOUNCED}.some(([kind, client]) => client === {client_id(alice)!r})",
        what="the second tab's join",
    )
    alice.switch_to.window(first)
    assert alice.execute_script("return thywill.sharing") == "leader"
    other = first if reloading == "member" else second
    alice.switch_to.window(second if reloading == "member" else first)
    reload_and_resume(alice, bob)
    assert alice.execute_script("return thywill.sharing") == "member"
    alice.switch_to.window(other)
    assert alice.execute_script("return thywill.sharing") == "leader"
    assert alice.execute_script("return thywill.state") == "connected"
    assert alice.execute_script(f"return {APPLICATION_DATA}.filter((d) => 'n' in d)") == []


def test_with_resuming_off_a_reload_is_a_new_client(
    browser: Browsers, not_resuming: LiveServer
) -> None:
    """THYWILL_RESUME = False, today's behaviour: the reloaded page is a new client, Bob
    hears it join, then, once the lease lapses, the old one leave; what was sent to the
    old client does not reach the page."""
    alice, bob = two_in_the_hall(browser, not_resuming, "sse")
    before = client_id(alice)
    heard = joins_and_of(bob, before)
    reload_while_sent_to(alice, bob)
    after = client_id(alice)
    assert after != before
    assert alice.execute_script("return thywill.resumed") is False
    wait_for(
        bob,
        f"{ANNOUNCED}.some(([kind, client]) => client === {before!r})",
        timeout=PAST_THE_LEASE + 5,
        what="the old client's leave",
    )
    assert joins_and_of(bob, before) == [
        *heard,
        ["thywill.join", after],
        ["thywill.leave", before],
    ]
    assert alice.execute_script(f"return {APPLICATION_DATA}") == [{"welcome": after}]


def test_a_kept_client_is_refused_in_another_session_and_the_page_goes_on_afresh(
    browser: Browsers, resuming: LiveServer
) -> None:
    """Alice's kept client, put in another browser's tab, is refused there by the
    server (session_mismatch, in the console): that page connects with its own new
    client, and Alice's is untouched."""
    alice = open_page(browser, resuming, "sse")
    key = "thywill.client:reloads:/thywill/reloads/init/?transport=sse"
    kept = alice.execute_script(
        "return JSON.parse(sessionStorage.getItem(arguments[0]))", key
    )
    assert kept["clientId"] == client_id(alice)
    mallory = browser()
    mallory.get(f"{resuming.url}/")  # the site's origin, without a client
    mallory.execute_script(
        "sessionStorage.setItem(arguments[0], JSON.stringify(arguments[1]))",
        key,
        {**kept, "live": False},
    )
    mallory.get(page_url(resuming, "sse"))
    wait_connected(mallory)
    assert client_id(mallory) != kept["clientId"]
    assert mallory.execute_script("return thywill.resumed") is False
    warnings = [e["message"] for e in mallory.get_log("browser") if e["level"] == "WARNING"]
    assert any("session_mismatch" in message for message in warnings), warnings
    assert alice.execute_script("return thywill.state") == "connected"
    assert client_id(alice) == kept["clientId"]


def test_a_duplicated_tab_gets_a_client_of_its_own(
    browser: Browsers, resuming: LiveServer
) -> None:
    """A tab opened from Alice's page gets a copy of its sessionStorage, her client's
    record included; it connects with a client of its own, and hers goes on."""
    alice = open_page(browser, resuming, "sse")
    mine = client_id(alice)
    original = alice.current_window_handle
    alice.execute_script(
        "sessionStorage.setItem('e2e-copied', 'yes'); window.open(location.href)"
    )
    wait_for(alice, "true", what="the new tab")
    [duplicate] = [h for h in alice.window_handles if h != original]
    alice.switch_to.window(duplicate)
    wait_connected(alice)
    assert alice.execute_script("return sessionStorage.getItem('e2e-copied')") == "yes"
    assert client_id(alice) != mine
    assert alice.execute_script("return thywill.resumed") is False
    alice.switch_to.window(original)
    assert client_id(alice) == mine
    assert alice.execute_script("return thywill.state") == "connected"
