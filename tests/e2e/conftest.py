"""Browser fixtures: real Chromium drivers against live servers, and bounded waits.

Debian's ``chromium`` and ``chromedriver`` are used as installed, by explicit paths: nothing
is downloaded at test time (Selenium Manager is never asked, and ``SE_OFFLINE`` forbids it).
When a test fails, every driver's console log and the tail of every server log it used are
added to the failure report.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from tests.conftest import require
from tests.live import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A second window of one browser must keep its timers running at full speed.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
)
WAIT = 10.0  # default bound of every wait, in seconds
PAGE_LOAD = 30.0
"""Bound of a page load. ChromeDriver holds every command to a tab until the tab's pending
navigation ends, within this bound: a tab opened by ``window.open`` on a loaded machine has
taken longer than WAIT to load (CI failed with "Timed out receiving message from renderer:
10.000" on its first script), and its first wait must not be cut short by it."""
BYE_BOUND = 15.0
"""How soon a closed tab that said bye is gone for the others: BYE_GRACE (5 s), one sweep
(at most 5 s) and a margin."""
SERVER_LOG_LINES = 80

os.environ["SE_OFFLINE"] = "true"  # Selenium must never fetch a driver or a browser

BROWSERS_KEY = pytest.StashKey["Browsers"]()


class Browsers:
    """Creates independent Chrome drivers (one profile, so one session, each); quits all."""

    def __init__(self) -> None:
        self.drivers: list[WebDriver] = []
        self.servers: list[LiveServer] = []
        self._profiles: list[str] = []

    def __call__(self) -> WebDriver:
        """A new headless browser with a fresh profile: its own cookies and session."""
        profile = tempfile.mkdtemp(prefix="thywill-chromium-")
        self._profiles.append(profile)
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        driver.set_page_load_timeout(PAGE_LOAD)
        driver.set_script_timeout(WAIT)
        self.drivers.append(driver)
        return driver

    def open(
        self, server: LiveServer, transport: str | None, driver: WebDriver | None = None
    ) -> WebDriver:
        """Load the echo page of ``server`` (in ``driver``, or a new browser)."""
        if server not in self.servers:
            self.servers.append(server)
        driver = driver if driver is not None else self()
        query = f"?transport={transport}" if transport is not None else ""
        driver.get(f"{server.url}/thywill/init/{query}")
        return driver

    def diagnostics(self) -> list[tuple[str, str]]:
        """Report sections: each driver's console log, each server's log tail."""
        sections = []
        for number, driver in enumerate(self.drivers, 1):
            try:
                entries = driver.get_log("browser")
                text = (
                    "\n".join(f"{entry['level']} {entry['message']}" for entry in entries)
                    or "(empty)"
                )
                state = driver.execute_script(
                    "return window.thywill ? {state: thywill.state, transport:"
                    " thywill.transport, clientId: thywill.clientId, stats: thywill.stats}"
                    " : null"
                )
                text += f"\nthywill: {json.dumps(state)}"
            except WebDriverException as exc:
                text = f"(unavailable: {exc.msg})"
            sections.append((f"browser {number} console", text))
        for server in self.servers:
            tail = "\n".join(server.log().splitlines()[-SERVER_LOG_LINES:])
            sections.append((f"server {server.url} log (tail)", tail or "(empty)"))
        return sections

    def quit_all(self) -> None:
        for driver in self.drivers:
            try:
                driver.quit()
            except WebDriverException:
                pass  # already gone: nothing left to clean up
        self.drivers.clear()
        for profile in self._profiles:
            shutil.rmtree(profile, ignore_errors=True)
        self._profiles.clear()


@pytest.fixture(scope="session")
def chromium() -> None:
    """Debian's Chromium and its driver are installed (skip locally, fail under CI)."""
    require(
        os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK),
        f"Chromium ({CHROMIUM}) and chromedriver ({CHROMEDRIVER})",
    )


@pytest.fixture
def browser(chromium: None, request: pytest.FixtureRequest) -> Iterator[Browsers]:
    """A factory of independent browsers, all quit when the test ends."""
    browsers = Browsers()
    request.node.stash[BROWSERS_KEY] = browsers
    yield browsers
    browsers.quit_all()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """On a failed test, add the browsers' console logs and server logs to its report."""
    report = yield
    browsers = item.stash.get(BROWSERS_KEY, None)
    if report.failed and report.when == "call" and browsers is not None:
        for title, text in browsers.diagnostics():
            report.sections.append((title, text))
    return report


def wait_for(
    driver: WebDriver, expression: str, timeout: float = WAIT, what: str | None = None
) -> Any:
    """Wait until the JavaScript ``expression`` is truthy; return its value.

    Fails with ``what`` (or the expression) and the page's thywill state on timeout.
    """
    __tracebackhide__ = True
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(
            lambda d: d.execute_script(f"return ({expression});")
        )
    except TimeoutException:
        pass  # reported below, without Selenium's traceback
    state = driver.execute_script(
        "return window.thywill ? [thywill.state, thywill.stats] : null"
    )
    pytest.fail(
        f"not within {timeout}s: {what or expression} (thywill state, stats: {state})"
    )


def wait_connected(driver: WebDriver, timeout: float = WAIT) -> None:
    """Wait until the page's client is connected."""
    wait_for(
        driver, "window.thywill && thywill.state === 'connected'", timeout, "connected"
    )


RECORDER_JS = """
window.e2e = {received: [], meta: [], sends: [], errors: []};
thywill.onMessage((data, meta) => { e2e.received.push(data); e2e.meta.push(meta); });
"""


def record_messages(driver: WebDriver) -> None:
    """Collect whatever the page's client delivers into ``window.e2e.received``."""
    driver.execute_script(RECORDER_JS)


SEND_JS = """
const texts = arguments[0];
for (const text of texts) {
  thywill.send({text}).then(
    (value) => e2e.sends.push(value === undefined ? null : value),
    (error) => e2e.errors.push({code: error.code, message: error.message}));
}
"""


def send_texts(driver: WebDriver, texts: list[str]) -> None:
    """Fire ``thywill.send({text})`` for each text, in order, in one task."""
    driver.execute_script(SEND_JS, texts)


def texts_received(driver: WebDriver) -> list[str]:
    """The texts delivered so far to the page's recorder."""
    received: list[Any] = driver.execute_script("return e2e.received")
    return [item["text"] for item in received]
