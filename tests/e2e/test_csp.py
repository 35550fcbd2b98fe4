"""The demo's pages under their Content-Security-Policy, in real Chromium: nothing is
refused (no inline script or style, no eval, every script carrying the nonce), and the
WebSocket transport connects under ``connect-src 'self'``."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver

from tests.e2e.conftest import Browsers, wait_connected, wait_for
from tests.live import LiveServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.parametrize("live_factory", ["daphne"], indirect=True),
]

TOGETHER_CONNECTED = (
    "document.getElementById('echo-state').dataset.state === 'connected'"
    " && document.getElementById('chat-state').dataset.state === 'connected'"
)
PAGES = [
    pytest.param("/", "document.readyState === 'complete'", id="start"),
    pytest.param("/together/", TOGETHER_CONNECTED, id="together"),
    *(
        pytest.param(
            f"/thywill/{app}/init/{query}",
            "window.thywill && thywill.state === 'connected'",
            id=f"{app}{query and '-' + query.split('=')[1]}",
        )
        for app in ("echo", "chat", "tictactoe")
        for query in ("", "?transport=websocket", "?transport=sse", "?transport=longpoll")
    ),
]


def violations(driver: WebDriver) -> list[dict[str, Any]]:
    """The console entries in which Chromium reports a refusal by the page's policy."""
    return [
        entry
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]


def open_page(browser: Browsers, server: LiveServer, path: str, ready: str) -> WebDriver:
    driver = browser()
    if server not in browser.servers:
        browser.servers.append(server)
    driver.get(f"{server.url}{path}")
    wait_for(driver, ready, what=f"{path} ready")
    return driver


@pytest.mark.parametrize(("path", "ready"), PAGES)
def test_a_demo_page_runs_under_its_policy_with_no_violation(
    browser: Browsers, live: LiveServer, live_url: str, path: str, ready: str
) -> None:
    """The page sends a policy, its clients connect on the transport asked for, and the
    browser's console reports no violation of the policy."""
    driver = open_page(browser, live, path, ready)
    policy = driver.execute_script(
        "return fetch(location.href).then((r) => r.headers.get('content-security-policy'))"
    )
    assert policy and "script-src 'self' 'nonce-" in policy
    if "transport=" in path:
        assert driver.execute_script("return thywill.transport") == path.split("=")[1]
    assert violations(driver) == []


def test_the_policy_is_enforced_where_violations_are_looked_for(
    browser: Browsers, live: LiveServer, live_url: str
) -> None:
    """An inline script added to the echo page is refused and reported in the console,
    where the test above looks (so its empty list means something)."""
    driver = open_page(
        browser,
        live,
        "/thywill/echo/init/",
        "window.thywill && thywill.state === 'connected'",
    )
    driver.execute_script(
        "const s = document.createElement('script');"
        " s.textContent = 'window.inlineRan = true;'; document.head.append(s);"
    )
    wait_connected(driver)
    assert driver.execute_script("return window.inlineRan === true") is False
    assert violations(driver)
