"""Tabs of one browser share one connection (documentation/transports.md, "Shared
connections"), in a real Chromium.

Every tab here is a window of one browser, so one session. A script that runs before each
page's own (``COUNT_JS``) counts the feed connections the page opens: WebSockets, and
fetches of the SSE and long-poll endpoints. Sharing means one tab (the leader) opens them
all and the others none, while each tab's client still gets exactly its own messages, once,
in order.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver

from tests.e2e.conftest import (
    WAIT,
    Browsers,
    record_messages,
    send_texts,
    texts_received,
    wait_connected,
    wait_for,
)
from tests.live import LiveServer
from tests.support.cluster import wait_for as poll_until

pytestmark = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.parametrize("live_factory", ["daphne"], indirect=True),
]

TRANSPORTS = ["websocket", "sse", "longpoll"]
COUNT_JS = """
(() => {
  window.e2eFeeds = 0;
  const feed = (url) => /\\/(sse|longpoll|websocket)\\//.test(String(url));
  const realFetch = window.fetch.bind(window);
  window.fetch = (input, init) => {
    if (feed(typeof input === 'string' ? input : input.url)) {
      window.e2eFeeds += 1;
    }
    return realFetch(input, init);
  };
  const Real = window.WebSocket;
  function Counted(url, protocols) {
    if (feed(url)) {
      window.e2eFeeds += 1;
    }
    return new Real(url, protocols);
  }
  Object.assign(Counted, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  Counted.prototype = Real.prototype;
  window.WebSocket = Counted;
})();
"""
SHARING = "thywill.sharing"
NO_WEB_LOCKS_JS = """
Object.defineProperty(Navigator.prototype, 'locks', {
  get: () => undefined, configurable: true,
});
"""
"""Run before a page's own scripts: the browser has no Web Locks, as some older ones."""


@pytest.fixture(scope="module")
def server(live_factory: Callable[..., LiveServer]) -> LiveServer:
    """A live server with sharing on (THYWILL_SHARE_CONNECTIONS' default)."""
    return live_factory()


@pytest.fixture(scope="module")
def not_sharing(live_factory: Callable[..., LiveServer]) -> LiveServer:
    """A live server with THYWILL_SHARE_CONNECTIONS = False."""
    return live_factory(THYWILL_TEST_SHARE="0")


def open_tabs(
    browser: Browsers,
    server: LiveServer,
    transport: str,
    count: int,
    *,
    web_locks: bool = True,
) -> tuple[WebDriver, list[str]]:
    """``count`` tabs of one new browser on the echo page, each connected and recording
    what it receives; the driver and the tabs' handles. Without ``web_locks``, the pages
    see no ``navigator.locks``."""
    driver = browser()
    if server not in browser.servers:
        browser.servers.append(server)
    handles = []
    for number in range(count):
        if number > 0:
            driver.switch_to.new_window("tab")
        driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument", {"source": COUNT_JS}
        )
        if not web_locks:
            driver.execute_cdp_cmd(
                "Page.addScriptToEvaluateOnNewDocument", {"source": NO_WEB_LOCKS_JS}
            )
        driver.get(f"{server.url}/thywill/init/?transport={transport}")
        handles.append(driver.current_window_handle)
    for handle in handles:
        driver.switch_to.window(handle)
        wait_connected(driver)
        record_messages(driver)
    return driver, handles


def in_each(driver: WebDriver, handles: list[str], script: str) -> list[object]:
    """The value of ``script`` in each tab, in order."""
    values = []
    for handle in handles:
        driver.switch_to.window(handle)
        values.append(driver.execute_script(f"return ({script});"))
    return values


Sent = dict[str, tuple[int, list[str]]]
"""What each tab sent: its handle -> (how many it had received before, the texts)."""


def send_from_each(driver: WebDriver, handles: list[str], count: int, tag: str) -> Sent:
    """Each tab sends ``count`` texts of its own."""
    sent = {}
    for number, handle in enumerate(handles):
        driver.switch_to.window(handle)
        already = len(texts_received(driver))
        texts = [f"{tag} tab {number} message {n}" for n in range(count)]
        sent[handle] = (already, texts)
        send_texts(driver, texts)
    return sent


def each_got_its_own(driver: WebDriver, sent: Sent, what: str, timeout: float) -> None:
    """Each tab gets back exactly what it sent, once, in order."""
    for handle, (already, texts) in sent.items():
        driver.switch_to.window(handle)
        wait_for(
            driver,
            f"e2e.received.length >= {already + len(texts)}",
            timeout=timeout,
            what=what,
        )
        assert texts_received(driver)[already:] == texts


def echo_in_each(driver: WebDriver, handles: list[str], count: int, tag: str) -> None:
    """Each tab sends ``count`` texts; each gets back exactly its own, once, in order."""
    sent = send_from_each(driver, handles, count, tag)
    each_got_its_own(driver, sent, "the echoes", WAIT)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_five_tabs_share_one_connection_and_each_gets_only_its_own(
    browser: Browsers, server: LiveServer, transport: str
) -> None:
    """One tab leads and opens every feed connection; the four others open none. Each
    tab's 30 echoes come back to that tab only, exactly once, in order."""
    driver, tabs = open_tabs(browser, server, transport, 5)
    roles = in_each(driver, tabs, SHARING)
    assert sorted(roles) == ["leader", "member", "member", "member", "member"]  # type: ignore[type-var]
    clients = in_each(driver, tabs, "thywill.clientId")
    assert len(set(clients)) == 5

    echo_in_each(driver, tabs, 30, "first")

    opened = in_each(driver, tabs, "window.e2eFeeds")
    for role, count in zip(roles, opened, strict=True):
        assert (count >= 1) if role == "leader" else (count == 0), (roles, opened)
    assert in_each(driver, tabs, "thywill.transport") == [transport] * 5


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_leading_tab_closes_and_the_others_go_on_losing_nothing(
    browser: Browsers, server: LiveServer, transport: str
) -> None:
    """Each of the four other tabs has 40 messages on their way when the leading tab
    closes: another tab takes the lead, and every tab gets all its own, once, in order,
    then its next ones as well."""
    driver, tabs = open_tabs(browser, server, transport, 5)
    others = close_the_leader_during_a_burst(driver, tabs, 40, "burst")
    echo_in_each(driver, others, 10, "after")


def close_the_leader_during_a_burst(
    driver: WebDriver, tabs: list[str], count: int, tag: str
) -> list[str]:
    """Each tab but the leader sends ``count`` texts; the leader closes while they are on
    their way. Each other tab gets all its own, once, in order, and one of them leads
    now; return them."""
    roles = in_each(driver, tabs, SHARING)
    leader = tabs[roles.index("leader")]
    others = [tab for tab in tabs if tab != leader]
    sent = send_from_each(driver, others, count, tag)
    driver.switch_to.window(leader)
    driver.close()
    each_got_its_own(driver, sent, tag, 20)
    one_leads(driver, others)
    return others


def one_leads(driver: WebDriver, tabs: list[str], timeout: float = WAIT) -> None:
    """Wait until one of ``tabs`` leads and the others are its members, all connected
    (a change of leader takes a moment: without Web Locks, an election)."""
    seen: list[object] = []

    def settled() -> bool:
        roles = in_each(driver, tabs, SHARING)
        states = in_each(driver, tabs, "thywill.state")
        seen[:] = [roles, states]
        one_leader = sorted(map(str, roles)) == ["leader"] + ["member"] * (len(tabs) - 1)
        return one_leader and states == ["connected"] * len(tabs)

    if not poll_until(settled, timeout):
        pytest.fail(f"not within {timeout}s: one leader (roles, states: {seen})")


@pytest.mark.parametrize("transport", ["websocket", "longpoll"])
def test_without_web_locks_the_tabs_elect_their_leader(
    browser: Browsers, server: LiveServer, transport: str
) -> None:
    """A browser without Web Locks: the five tabs elect one leader over BroadcastChannel,
    which alone opens feed connections, and each tab echoes its own. When the leader
    closes with 20 messages on their way to each other tab, the others elect another and
    get all of them, once, in order."""
    driver, tabs = open_tabs(browser, server, transport, 5, web_locks=False)
    assert in_each(driver, tabs, "navigator.locks === undefined") == [True] * 5
    roles = in_each(driver, tabs, SHARING)
    assert sorted(roles) == ["leader", "member", "member", "member", "member"]  # type: ignore[type-var]
    echo_in_each(driver, tabs, 10, "elected")
    opened = in_each(driver, tabs, "window.e2eFeeds")
    for role, count in zip(roles, opened, strict=True):
        assert (count >= 1) if role == "leader" else (count == 0), (roles, opened)
    others = close_the_leader_during_a_burst(driver, tabs, 20, "re-elected")
    echo_in_each(driver, others, 5, "after")


@pytest.mark.parametrize("transport", ["sse", "longpoll"])
def test_eight_tabs_over_http11_all_work(
    browser: Browsers, server: LiveServer, transport: str
) -> None:
    """Chromium allows six connections to a host over HTTP/1.1: eight tabs that each held
    a stream would leave two waiting. Sharing one connection, all eight echo."""
    driver, tabs = open_tabs(browser, server, transport, 8)
    echo_in_each(driver, tabs, 5, "eight")
    assert sum(in_each(driver, tabs, "window.e2eFeeds > 0 ? 1 : 0")) == 1  # type: ignore[arg-type]


def test_with_sharing_off_each_tab_connects_alone(
    browser: Browsers, not_sharing: LiveServer
) -> None:
    """THYWILL_SHARE_CONNECTIONS = False: the behaviour before sharing, every tab its own
    connection and its own echoes."""
    driver, tabs = open_tabs(browser, not_sharing, "websocket", 3)
    assert in_each(driver, tabs, SHARING) == ["off"] * 3
    echo_in_each(driver, tabs, 10, "alone")
    assert all(count >= 1 for count in in_each(driver, tabs, "window.e2eFeeds"))  # type: ignore[operator]


def test_a_page_can_turn_sharing_off_for_its_client(
    browser: Browsers, server: LiveServer
) -> None:
    """connect(application, {share: false}): that client connects alone, beside the page's
    default client, which shares (and, alone in its browser, leads)."""
    driver, _tabs = open_tabs(browser, server, "sse", 1)
    before = driver.execute_script("return window.e2eFeeds")
    alone = driver.execute_async_script(ALONE_JS)
    assert alone == "off"
    assert driver.execute_script("return thywill.sharing") == "leader"
    wait_for(driver, "e2eAlone.state === 'connected'", what="the page's own client")
    assert driver.execute_script("return window.e2eFeeds") > before
    driver.execute_script(
        "window.e2eAloneGot = []; e2eAlone.onMessage((d) => e2eAloneGot.push(d.text));"
        "e2eAlone.send({text: 'alone'})"
    )
    wait_for(driver, "e2eAloneGot.length >= 1", what="the lone client's echo")
    assert driver.execute_script("return e2eAloneGot") == ["alone"]


ALONE_JS = """
const done = arguments[arguments.length - 1];
fetch('/thywill/echo/session/?transport=sse', {method: 'POST', credentials: 'same-origin',
    headers: {'X-CSRFToken': thywill.config.csrfToken}})
  .then((response) => response.json())
  .then((config) => {
    window.e2eAlone = thywill.connect('echo', {config, share: false});
    done(e2eAlone.sharing);
  }, (error) => done(String(error)));
"""
