"""The inspector in a real Chromium: a staff user logs in through the admin, opens the
inspector, and watches another browser's echo connection and messages appear in its
figures, pushed to it by the server (the page is a thywill client itself)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from selenium.webdriver.common.by import By

from tests.e2e.conftest import (
    WAIT,
    Browsers,
    record_messages,
    send_texts,
    wait_connected,
    wait_for,
)
from tests.e2e.test_csp import violations
from tests.live import LiveServer
from tests.support.staff import PASSWORD, create_staff_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.parametrize("live_factory", ["daphne"], indirect=True),
]

FIGURE = "Number(document.getElementById('inspector-{}').dataset.value)"
CONNECTIONS = FIGURE.format("connections")
MESSAGES_IN = FIGURE.format("messages-in")


def test_the_inspector_shows_another_browsers_connection_and_messages(
    browser: Browsers, live_factory: Callable[..., LiveServer]
) -> None:
    """The staff user's inspector counts the echo tab's connection once it connects, and
    its messages in once it sends them, within a bounded wait; under the page's policy,
    with no violation."""
    server = live_factory(THYWILL_TEST_INSPECTOR="1")
    browser.servers.append(server)
    create_staff_user(server, "root")

    inspector = browser()
    inspector.get(f"{server.url}/thywill/inspector/init/")
    # Anonymous: sent to the admin's login, and back to the inspector after it.
    wait_for(inspector, "location.pathname === '/admin/login/'", what="the login page")
    inspector.find_element(By.ID, "id_username").send_keys("root")
    inspector.find_element(By.ID, "id_password").send_keys(PASSWORD)
    inspector.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(inspector, "location.pathname === '/thywill/inspector/init/'", what="back")
    wait_connected(inspector)
    wait_for(
        inspector,
        "document.getElementById('inspector-processes').textContent === '1'",
        what="one server process reporting",
    )
    # The inspector's own connection (a first snapshot may predate it).
    connections = wait_for(inspector, CONNECTIONS, what="the inspector's connection")
    messages_in = inspector.execute_script(f"return {MESSAGES_IN}")

    echo = browser.open(server, "websocket")
    wait_connected(echo)
    wait_for(
        inspector,
        f"{CONNECTIONS} >= {connections + 1}",
        WAIT,
        "the echo tab's connection counted",
    )
    assert (
        inspector.execute_script(
            "return Number(document.getElementById('inspector-conn-websocket').textContent)"
        )
        >= 1
    )

    record_messages(echo)
    send_texts(echo, ["one", "two", "three"])
    wait_for(
        inspector,
        f"{MESSAGES_IN} >= {messages_in + 3}",
        WAIT,
        "the echo tab's three messages counted in",
    )
    assert inspector.find_element(By.ID, "inspector-sparkline").tag_name == "canvas"
    assert violations(inspector) == []
