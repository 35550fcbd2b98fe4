"""The deployment self-test page in Chromium, logged in as staff: behind a proxy that
refuses WebSocket upgrades and buffers event streams it names both problems and says what
to change; straight to the server, or through a proxy that passes everything, it reports
all clear. The idle check holds 1 s (``?idle=1``) to keep the tests short."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from tests.e2e.conftest import Browsers, wait_for
from tests.live import ROOT, LiveServer
from tests.support.proxy import TestProxy, proxy_to

pytestmark = [pytest.mark.browser, pytest.mark.live]

STAFF, PASSWORD = "selftest-staff", "selftest-password"
PAGE = "/thywill/selftest/?idle=1"
DONE = 30.0  # the checks' own bounds are shorter; a run with ?idle=1 takes about 4 s
CREATE_STAFF = f"""
from django.contrib.auth import get_user_model
users = get_user_model().objects
if not users.filter(username={STAFF!r}).exists():
    users.create_user({STAFF!r}, password={PASSWORD!r}, is_staff=True)
"""


@pytest.fixture(scope="session")
def staffed(live: LiveServer) -> LiveServer:
    """The session's live server, with a staff user in its database (made once)."""
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", CREATE_STAFF],
        cwd=ROOT,
        env=live.env,
        check=True,
        timeout=60,
    )
    return live


@pytest.fixture
def server(staffed: LiveServer, live_url: str) -> LiveServer:
    """The session's live server, running, with a staff user."""
    return staffed


@pytest.fixture
def hostile(server: LiveServer) -> Iterator[TestProxy]:
    """A proxy that refuses WebSocket upgrades and holds event streams until they end."""
    with proxy_to(server.port, refuse_upgrades=True, buffer_event_streams=True) as proxy:
        yield proxy


def open_selftest(browser: Browsers, server: LiveServer, base: str, page: str) -> WebDriver:
    """Log in as staff at ``base``, through the admin's login, where the page sends an
    anonymous visitor, and back to the page."""
    browser.servers.append(server)
    driver = browser()
    driver.get(base + page)
    wait_for(driver, "document.getElementById('id_username')", what="the admin's login")
    driver.find_element(By.ID, "id_username").send_keys(STAFF)
    driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(driver, "window.thywillSelftest", what="the self-test page")
    assert driver.execute_script("return location.pathname") == "/thywill/selftest/"
    return driver


def wait_done(driver: WebDriver) -> None:
    """Wait for the page's checks to end, without a failure of the page's own."""
    wait_for(driver, "thywillSelftest.done", timeout=DONE, what="the self-test's end")
    assert driver.execute_script("return thywillSelftest.error || null") is None


def run_selftest(browser: Browsers, server: LiveServer, base: str) -> WebDriver:
    """The self-test page at ``base``, logged in as staff, its checks ended."""
    driver = open_selftest(browser, server, base, PAGE)
    wait_done(driver)
    return driver


def results(driver: WebDriver) -> dict[str, dict[str, str]]:
    return driver.execute_script("return thywillSelftest.results")


def statuses(driver: WebDriver) -> dict[str, str]:
    """Each check's status, as the page shows it (its item's data-status)."""
    return driver.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('#selftest-checks li')]"
        ".map((li) => [li.id.replace('check-', ''), li.dataset.status]))"
    )


def policy_violations(driver: WebDriver) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]


@pytest.mark.timeout(90)
def test_behind_a_hostile_proxy_the_page_names_the_upgrade_and_buffering_problems(
    browser: Browsers, server: LiveServer, hostile: TestProxy
) -> None:
    """The WebSocket check and the event-stream check fail with what to change in the
    proxy; the long-poll, idle and clock checks pass."""
    driver = run_selftest(browser, server, hostile.url)

    found = results(driver)
    assert statuses(driver) == {
        "websocket": "fail",
        "sse": "fail",
        "longpoll": "ok",
        "idle": "ok",
        "clock": "ok",
    }, found
    websocket, sse = found["websocket"], found["sse"]
    assert "refused before it opened" in websocket["verdict"]
    assert "strips the upgrade" in websocket["verdict"]
    assert "proxy_set_header Upgrade $http_upgrade;" in websocket["advice"]
    assert 'proxy_set_header Connection "upgrade";' in websocket["advice"]
    assert "deployment.md#the-websocket-check" in websocket["advice"]
    assert "arrived all at once at the end" in sse["verdict"]
    assert "proxy_buffering off;" in sse["advice"]
    assert "X-Accel-Buffering: no" in sse["advice"]
    assert "deployment.md#the-event-stream-check" in sse["advice"]
    assert hostile.refused_upgrades >= 1 and hostile.buffered_streams >= 1

    shown = driver.find_element(By.ID, "check-websocket").text
    assert "proxy_http_version 1.1;" in shown
    summary = driver.find_element(By.ID, "selftest-summary")
    assert summary.get_attribute("data-status") == "fail"
    assert summary.text.startswith("2 problems")
    assert policy_violations(driver) == []


@pytest.mark.timeout(90)
@pytest.mark.parametrize("through", ["server", "proxy"])
def test_with_nothing_in_the_way_the_page_reports_all_clear(
    browser: Browsers, server: LiveServer, through: str
) -> None:
    """Straight to the server, or through a proxy that passes everything on, every check
    passes, and the idle check says how short its hold was."""
    with proxy_to(server.port) as proxy:
        base = proxy.url if through == "proxy" else server.url
        driver = run_selftest(browser, server, base)

        found = results(driver)
        assert set(statuses(driver).values()) == {"ok"}, found
        assert "upgrades get through" in found["websocket"]["verdict"]
        assert "not buffered" in found["sse"]["verdict"]
        assert "a WebSocket 1 s" in found["idle"]["verdict"]
        assert "shorter than" in found["idle"]["verdict"]
        summary = driver.find_element(By.ID, "selftest-summary")
        assert summary.text == "All clear: every check passed."
        assert policy_violations(driver) == []


@pytest.mark.timeout(90)
def test_an_idle_connection_cut_early_is_reported_with_the_timeouts_to_change(
    browser: Browsers, server: LiveServer
) -> None:
    """The proxy drops every connection while the idle check holds them (8 s): the check
    fails, saying when each was cut and which proxy timeout or thywill setting to
    change."""
    with proxy_to(server.port) as proxy:
        driver = open_selftest(browser, server, proxy.url, "/thywill/selftest/?idle=8")
        wait_for(
            driver,
            "document.getElementById('check-idle').dataset.status === 'running'",
            what="the idle check under way",
        )
        time.sleep(1)  # the idle probes' requests are made and held
        assert proxy.cut() >= 3
        wait_done(driver)

        found = results(driver)
        assert statuses(driver) == {
            "websocket": "ok",
            "sse": "ok",
            "longpoll": "ok",
            "idle": "fail",
            "clock": "ok",
        }, found
        idle = found["idle"]
        for probe in ("long-poll", "event stream", "WebSocket"):
            assert f"A silent {probe} held 8 s was cut after" in idle["verdict"]
        assert "proxy_read_timeout" in idle["advice"]
        assert 'THYWILL_LIMITS["LONGPOLL_TIMEOUT"] is 25 s' in idle["advice"]
        assert 'THYWILL_LIMITS["SSE_KEEPALIVE"] is 15 s' in idle["advice"]
        assert "deployment.md#the-idle-connection-check" in idle["advice"]
