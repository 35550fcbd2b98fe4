"""Tic-tac-toe in a real Chromium, over each forced transport: two players and a watcher,
each in a browser of its own (its own session), play a game to a win and a rematch to a
draw; illegal moves are refused with the hook's reason on the page; a player's tab
reloaded mid-game resumes it, and so do both players' tabs reconnected after a server
restart.

The live server runs on the first ASGI server of THYWILL_TEST_SERVERS only: the
application adds nothing transport- or server-specific that the echo tests do not
already run on each.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from tests.conftest import SERVERS
from tests.e2e.conftest import BYE_BOUND, WAIT, Browsers, wait_connected, wait_for
from tests.live import LiveServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.parametrize("live_factory", SERVERS[:1], indirect=True),
]

TRANSPORTS = ["websocket", "sse", "longpoll"]
EMPTY = "---------"
WAITING = "Waiting for an opponent: send them the link below."

BOARD_JS = """
return Array.from(document.querySelectorAll('.ttt-cell'), (c) => c.textContent || '-')
  .join('')
"""


def text_of(driver: WebDriver, element_id: str) -> str:
    text: str = driver.execute_script(
        "const e = document.getElementById(arguments[0]);"
        "return e && !e.hidden ? e.textContent : ''",
        element_id,
    )
    return text


def board(driver: WebDriver) -> str:
    """The board as the page shows it: nine of X, O or - (empty), row by row."""
    cells: str = driver.execute_script(BOARD_JS)
    return cells


def wait_shown(
    driver: WebDriver, expression: str, what: str, shown: Callable[[], str]
) -> None:
    """Wait until ``expression`` is true; on timeout, fail saying what the page shows."""
    __tracebackhide__ = True
    try:
        wait_for(driver, expression, what=what)
    except pytest.fail.Exception:
        pytest.fail(f"not within {WAIT}s: {what}; the page shows {shown()!r}")


def wait_text(driver: WebDriver, element_id: str, text: str) -> None:
    """Wait until the element shows ``text``."""
    wait_shown(
        driver,
        f"(e => e && !e.hidden && e.textContent === {json.dumps(text)})"
        f"(document.getElementById({json.dumps(element_id)}))",
        f"#{element_id} to read {text!r}",
        lambda: text_of(driver, element_id),
    )


def wait_board(drivers: list[WebDriver], expected: str) -> None:
    """Wait until every page shows the board ``expected``."""
    for driver in drivers:
        wait_shown(
            driver,
            f"(() => {{ {BOARD_JS} }})() === {json.dumps(expected)}",
            f"the board {expected}",
            lambda driver=driver: board(driver),
        )


def open_room(
    browser: Browsers, server: LiveServer, transport: str, room: str
) -> WebDriver:
    """A new browser (a session of its own) on the room's page, connected."""
    driver = browser()
    driver.get(f"{server.url}/thywill/tictactoe/init/?transport={transport}&room={room}")
    wait_connected(driver)
    assert driver.execute_script("return thywill.transport") == transport
    return driver


def click(driver: WebDriver, cell: int) -> None:
    driver.find_element(By.CSS_SELECTOR, f'.ttt-cell[data-cell="{cell}"]').click()


def play(drivers: dict[str, WebDriver], moves: str, start: str) -> str:
    """Play ``moves`` ("X4 O0 ..."), from the board ``start``, each clicked by its
    player; after each, wait until all three pages show it. Return the last board."""
    current = start
    for move in moves.split():
        mark, cell = move[0], int(move[1])
        click(drivers[mark], cell)
        current = current[:cell] + mark + current[cell + 1 :]
        wait_board(list(drivers.values()), current)
    return current


@pytest.fixture
def server(live: LiveServer, live_url: str, browser: Browsers) -> LiveServer:
    """The session's live server, running; its log goes with a failure's report."""
    browser.servers.append(live)
    return live


@pytest.fixture(scope="module")
def restartable(live_factory: Callable[..., LiveServer]) -> LiveServer:
    """A server of this module's own, which a test restarts."""
    return live_factory()


@pytest.fixture
def own_server(restartable: LiveServer, browser: Browsers) -> LiveServer:
    """The module's restartable server, running (a previous test may have left it down)."""
    if restartable.process is None or restartable.process.poll() is not None:
        restartable.start()
    browser.servers.append(restartable)
    return restartable


@pytest.mark.timeout(120)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_two_players_and_a_watcher_play_to_a_win_then_to_a_draw(
    browser: Browsers, server: LiveServer, transport: str
) -> None:
    room = f"e2e-{transport}-{secrets.token_hex(3)}"

    # X arrives first and waits; O's arrival starts the game: each is told its mark and
    # who starts. A third visitor is refused a seat, with the hook's reason, and watches.
    x = open_room(browser, server, transport, room)
    wait_text(
        x, "ttt-message", "You are X. Waiting for an opponent: send them the link below."
    )
    o = open_room(browser, server, transport, room)
    wait_text(o, "ttt-message", "You are O. X starts.")
    wait_text(x, "ttt-message", "You are X. You start.")
    watcher = open_room(browser, server, transport, room)
    wait_text(watcher, "ttt-notice", "Room full: you are watching.")
    wait_text(watcher, "ttt-message", "You are watching. X starts.")
    everyone = {"X": x, "O": o, "W": watcher}
    wait_board(list(everyone.values()), EMPTY)

    # Illegal moves: refused by the hook scripts, the reason shown, the board unchanged.
    click(o, 0)
    wait_text(o, "ttt-notice", "Not your turn.")
    current = play(everyone, "X4", EMPTY)
    click(o, 4)
    wait_text(o, "ttt-notice", "That cell is taken.")
    click(watcher, 0)
    wait_text(watcher, "ttt-notice", "You are watching: only the two players move.")
    current = play(everyone, "O0", current)

    # X reloads mid-game: a new client of the same session, back in its seat.
    first_client = x.execute_script("return thywill.clientId")
    x.refresh()
    wait_connected(x)
    assert x.execute_script("return thywill.clientId") != first_client
    wait_board([x], current)
    wait_text(x, "ttt-message", "You are X. Your turn.")

    # To a win: X takes the middle column.
    current = play(everyone, "X1 O2 X7", current)
    assert current == "OXO-X--X-"
    wait_text(x, "ttt-message", "You win!")
    wait_text(o, "ttt-message", "You lose: X wins.")
    wait_text(watcher, "ttt-message", "X wins.")
    for driver in (x, o, watcher):
        lit = driver.execute_script(
            "return Array.from(document.querySelectorAll('.ttt-line'),"
            " (c) => Number(c.dataset.cell))"
        )
        assert lit == [1, 4, 7]
    assert text_of(watcher, "ttt-rematch") == ""  # a watcher cannot start a new game

    # A new game, which O starts, to a draw.
    wait_text(o, "ttt-rematch", "New game (O starts)")
    o.find_element(By.ID, "ttt-rematch").click()
    wait_board(list(everyone.values()), EMPTY)
    wait_text(o, "ttt-message", "You are O. You start.")
    wait_text(x, "ttt-message", "You are X. O starts.")
    current = play(everyone, "O0 X1 O2 X4 O3 X5 O7 X6 O8", EMPTY)
    assert current == "OXOOXXXOO"
    for driver in (x, o, watcher):
        wait_text(driver, "ttt-message", "Draw: nobody wins.")
    for driver in (x, o, watcher):
        assert driver.execute_script("return thywill.state") == "connected"


@pytest.mark.timeout(90)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_after_a_server_restart_both_players_are_back_in_the_game(
    browser: Browsers, own_server: LiveServer, transport: str
) -> None:
    """The restart loses the in-memory push backend (groups included), not the database:
    each page reconnects, asks for its room again, and the game goes on."""
    room = f"restart-{transport}-{secrets.token_hex(3)}"
    x = open_room(browser, own_server, transport, room)
    o = open_room(browser, own_server, transport, room)
    players = {"X": x, "O": o}
    current = play(players, "X4 O0", EMPTY)

    own_server.restart()
    for driver in (x, o):
        wait_for(
            driver,
            "thywill.stats.resets >= 1 && thywill.state === 'connected'",
            timeout=30,
            what="reconnected after the restart",
        )
    wait_text(x, "ttt-message", "You are X. Your turn.")
    current = play(players, "X8 O2", current)
    assert current == "O-O-X---X"
    wait_text(x, "ttt-message", "You are X. Your turn.")


BLOCK_BYE_JS = """
const realFetch = window.fetch;
window.fetch = (url, init) =>
  String(url).includes('/bye/') ? Promise.resolve(new Response(null, {status: 204}))
    : realFetch(url, init);
"""
"""Makes the page unable to say bye, as a crashed tab or a lost network: its client
leaves only when its presence lease lapses."""

LEASE = 2.0
"""The presence lease (PRESENCE_TTL, seconds) of the server whose seats free by lease."""


def new_tab(driver: WebDriver, url: str) -> str:
    """Open ``url`` in a new tab of ``driver``'s browser (its session, its own
    sessionStorage), switch to it, wait until it is connected; return its handle."""
    driver.switch_to.new_window("tab")
    driver.get(url)
    wait_connected(driver)
    return str(driver.current_window_handle)


def in_tab(driver: WebDriver, handle: str) -> WebDriver:
    driver.switch_to.window(handle)
    return driver


@pytest.fixture(scope="module")
def short_lease(live_factory: Callable[..., LiveServer]) -> LiveServer:
    """A server of this module's own whose presence leases last LEASE seconds."""
    return live_factory(THYWILL_TEST_PRESENCE_TTL=str(LEASE))


@pytest.mark.timeout(90)
def test_two_tabs_of_one_browser_are_x_and_o_and_a_closed_tab_frees_its_seat(
    browser: Browsers, server: LiveServer
) -> None:
    """A seat is a tab's, not the browser session's: the second tab is O, not X again,
    and they play. A tab closed says bye, so its seat is free within BYE_BOUND, not
    after the lease (a minute on this server)."""
    room = f"tabs-{secrets.token_hex(3)}"
    url = f"{server.url}/thywill/tictactoe/init/?transport=websocket&room={room}"
    driver = browser()
    driver.get(url)
    wait_connected(driver)
    x = str(driver.current_window_handle)
    wait_text(driver, "ttt-message", "You are X. " + WAITING)
    o = new_tab(driver, url)
    wait_text(driver, "ttt-message", "You are O. X starts.")
    wait_text(in_tab(driver, x), "ttt-message", "You are X. You start.")

    current = EMPTY
    for move in ("X4", "O0", "X8"):
        mark, cell = move[0], int(move[1])
        click(in_tab(driver, x if mark == "X" else o), cell)
        current = current[:cell] + mark + current[cell + 1 :]
        for handle in (x, o):
            wait_board([in_tab(driver, handle)], current)
    wait_text(in_tab(driver, o), "ttt-message", "You are O. Your turn.")

    in_tab(driver, x).close()
    wait_for(
        in_tab(driver, o),
        "document.getElementById('ttt-message').textContent === "
        + json.dumps("You are O. " + WAITING),
        timeout=BYE_BOUND,
        what="the closed tab's seat free",
    )
    wait_board([driver], current)


@pytest.mark.timeout(90)
def test_a_seat_left_past_the_lease_frees_and_an_old_invite_link_seats_a_new_player(
    browser: Browsers, short_lease: LiveServer
) -> None:
    """X's tab goes without a bye (as a crashed one): once its lease lapses, O is told
    the seat is free, a watcher is offered it, and whoever opens the old invitation
    sits as X and plays on."""
    if short_lease.process is None or short_lease.process.poll() is not None:
        short_lease.start()
    browser.servers.append(short_lease)
    room = f"lease-{secrets.token_hex(3)}"
    x = open_room(browser, short_lease, "longpoll", room)
    invitation = x.find_element(By.ID, "ttt-invite").get_attribute("value")
    assert invitation == f"{short_lease.url}/thywill/tictactoe/init/?room={room}"
    o = open_room(browser, short_lease, "longpoll", room)
    current = play({"X": x, "O": o}, "X4 O0", EMPTY)
    watcher = open_room(browser, short_lease, "longpoll", room)
    wait_text(watcher, "ttt-notice", "Room full: you are watching.")
    assert text_of(watcher, "ttt-sit") == ""

    x.execute_script(BLOCK_BYE_JS)
    x.quit()
    browser.drivers.remove(x)
    waiting = json.dumps("You are O. " + WAITING)
    wait_for(
        o,
        f"document.getElementById('ttt-message').textContent === {waiting}",
        timeout=LEASE + 8,
        what="the seat freed once X's lease lapsed",
    )
    assert "X (free)" in text_of(o, "ttt-seats")
    wait_text(watcher, "ttt-sit", "Take the free seat")

    newcomer = browser()
    newcomer.get(str(invitation))
    wait_connected(newcomer)
    wait_text(newcomer, "ttt-message", "You are X. Your turn.")
    wait_board([newcomer], current)
    wait_shown(
        watcher,
        "document.getElementById('ttt-sit').hidden",
        "the free seat no longer offered",
        lambda: text_of(watcher, "ttt-sit"),
    )
    play({"X": newcomer, "O": o, "W": watcher}, "X8", current)
    wait_text(o, "ttt-message", "You are O. Your turn.")


@pytest.mark.timeout(60)
def test_a_reloaded_tab_that_could_not_say_bye_keeps_its_seat(
    browser: Browsers, short_lease: LiveServer
) -> None:
    """Without a bye, X's old client still holds the seat when the reloaded page joins:
    the tab's key gives the seat to the new client, and the old one's lapsing lease
    frees nothing (O is never told the seat is free)."""
    if short_lease.process is None or short_lease.process.poll() is not None:
        short_lease.start()
    browser.servers.append(short_lease)
    room = f"reload-{secrets.token_hex(3)}"
    x = open_room(browser, short_lease, "sse", room)
    o = open_room(browser, short_lease, "sse", room)
    current = play({"X": x, "O": o}, "X4 O0", EMPTY)
    o.execute_script(
        "window.e2eSeats = [];"
        "thywill.onMessage((d) => d.type === 'ttt.state' && e2eSeats.push(d.seats.X));"
    )

    x.execute_script(BLOCK_BYE_JS)
    x.refresh()
    wait_connected(x)
    wait_text(x, "ttt-message", "You are X. Your turn.")
    wait_board([x], current)
    # Nothing to wait for: what must not happen is the seat freed when the old client's
    # lease lapses (within LEASE and a sweep). Give it three leases, then look.
    o.set_script_timeout(LEASE * 3 + 5)
    o.execute_async_script(
        "setTimeout(arguments[arguments.length - 1], arguments[0])", (LEASE * 3) * 1000
    )
    current = play({"X": x, "O": o}, "X8", current)
    assert o.execute_script("return e2eSeats").count(False) == 0
