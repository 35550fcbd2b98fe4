"""The inspector: a staff-only application whose page every server process feeds with
its snapshot while the page is open (thywill.inspector)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import AsyncClient, override_settings

import thywill
from thywill.metrics import counters
from thywill.metrics.errors import ErrorRing
from thywill.wiring.runtime import get_runtime

pytestmark = pytest.mark.django_db(transaction=True)

INSPECTOR = {
    "BACKEND": "thywill.inspector.application.InspectorApplication",
    "OPTIONS": {"interval": 0.2},
}
PAGE = "/thywill/inspector/init/"


@pytest.fixture(autouse=True)
def inspector_on(thywill_runtime):
    """The test settings' applications plus the inspector, in a runtime of the test's
    own; the watchers it started are stopped after the test."""
    applications = {**settings.THYWILL_APPLICATIONS, "inspector": INSPECTOR}
    with override_settings(THYWILL_APPLICATIONS=applications):
        yield
        get_runtime().discard()


async def make_user(name: str, *, staff: bool):
    return await get_user_model().objects.acreate_user(
        username=name, password="pw", is_staff=staff
    )


def watcher():
    return get_runtime().application("inspector").app.background


async def until(predicate, timeout: float = 3.0) -> None:
    """Wait until ``predicate()`` is true, at most ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110  (the state has no event to wait on)
            await asyncio.sleep(0.02)


# --- the page and the client: staff only -----------------------------------------------


async def test_an_anonymous_user_is_sent_to_the_admin_login():
    """The inspector's page sends an anonymous visitor to the admin's login page, and
    back to the inspector after it."""
    response = await AsyncClient().get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/thywill/inspector/init/"


async def test_a_user_who_is_not_staff_is_refused_the_page():
    """A logged-in user who is not staff gets 403 refused, and no client is issued."""
    http = AsyncClient()
    await http.aforce_login(await make_user("alice", staff=False))
    response = await http.get(PAGE)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "refused"


async def test_a_staff_user_gets_the_page():
    """A staff user gets the bootstrap page with the inspector's script."""
    http = AsyncClient()
    await http.aforce_login(await make_user("root", staff=True))
    response = await http.get(PAGE)
    assert response.status_code == 200
    assert b"thywill/inspector/inspector.js" in response.content


async def test_a_client_of_a_user_who_is_not_staff_is_refused_on_connect():
    """A client issued another way than the page (the session endpoint) to a user who is
    not staff is refused by the connect event: it never joins the group."""
    http = AsyncClient()
    await http.aforce_login(await make_user("bob", staff=False))
    response = await http.post("/thywill/inspector/session/")
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "refused",
        "message": "The inspector is for staff users only.",
    }
    assert await thywill.amembers("inspector", "inspectors") == []


@override_settings(THYWILL_RESUME=True)
async def test_a_pending_client_of_a_user_who_is_not_staff_is_refused_on_its_first_read():
    """With THYWILL_RESUME on, the connect event runs on the client's first request,
    which it refuses."""
    http = AsyncClient()
    await http.aforce_login(await make_user("bob", staff=False))
    config = (await http.post("/thywill/inspector/session/")).json()
    response = await http.get(
        "/thywill/longpoll/",
        {"cursor": "", "wait": "0"},
        headers={"X-Thywill-Token": config["token"]},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "refused"
    assert await thywill.amembers("inspector", "inspectors") == []


# --- the ticker ------------------------------------------------------------------------


async def test_no_snapshot_is_pushed_while_no_inspector_is_open(thywill_connect):
    """With the inspector configured but no page open, the process's watcher waits: it
    pushes nothing, whatever the traffic."""
    echo = await thywill_connect("echo")
    await echo.send({"text": "hi"})
    assert await echo.receive_one(timeout=1) == {"text": "hi"}  # a read starts the watcher
    await until(lambda: watcher()._task is not None)
    await asyncio.sleep(0.5)
    assert (watcher().ticking, watcher().ticks) == (False, 0)


async def test_the_ticker_runs_while_an_inspector_is_open_and_stops_after(
    thywill_connect,
):
    """A staff user's inspector joins the group and gets this process's snapshots every
    interval; once it is gone, the ticker stops (the watcher waits again)."""
    staff = await make_user("root", staff=True)
    page = await thywill_connect("inspector", user=staff)
    first = await page.receive_one("inspector.snapshot", timeout=3)
    second = await page.receive_one("inspector.snapshot", timeout=3)
    assert first["process"] == second["process"] == watcher().process
    assert second["at"] > first["at"]
    assert watcher().ticking
    await page.disconnect()
    await until(lambda: not watcher().ticking)
    ticks = watcher().ticks
    await asyncio.sleep(0.5)
    assert watcher().ticks == ticks
    assert not watcher()._task.done()  # waiting for the next inspector


async def test_a_snapshot_counts_what_the_process_carried(thywill_connect):
    """A snapshot carries the process's counters (messages in and out grow with an
    echo's round trip), the open connections by transport, and the push backend's
    presence and groups."""
    staff = await make_user("root", staff=True)
    page = await thywill_connect("inspector", user=staff)
    before = await page.receive_one("inspector.snapshot", timeout=3)
    echo = await thywill_connect("echo")
    assert await echo.send({"text": "hi"}) == {"status": "ok"}
    assert await echo.receive_one(timeout=1) == {"text": "hi"}

    async def grown():
        while True:
            snapshot = await page.receive_one("inspector.snapshot", timeout=3)
            if snapshot["messagesIn"] > before["messagesIn"]:
                return snapshot

    after = await grown()
    assert after["messagesIn"] >= before["messagesIn"] + 1
    assert after["messagesOut"] >= before["messagesOut"] + 1
    assert set(after["connections"]) == {"websocket", "sse", "longpoll"}
    assert after["present"] >= 2
    assert after["groups"]["inspector"] == {"count": 1, "shown": [["inspectors", 1]]}
    assert after["groups"]["echo"] == {"count": 0, "shown": []}
    assert after["interval"] == 0.2


async def test_snapshots_of_several_processes_reach_the_page_keyed_by_process(
    thywill_connect,
):
    """Each process pushes its own snapshot, named by its process id: the page gets both
    and tells them apart (it sums them, tests/js/inspector.test.mjs)."""
    from thywill.inspector.watcher import GROUP, Watcher

    staff = await make_user("root", staff=True)
    page = await thywill_connect("inspector", user=staff)
    other = Watcher("inspector", interval=0.2)
    other.process = "other-host:4242"
    await thywill.asend_to_group("inspector", GROUP, await other.snapshot())
    seen: set[str] = set()
    async with asyncio.timeout(3):
        while len(seen) < 2:
            seen.add((await page.receive_one("inspector.snapshot"))["process"])
    assert seen == {watcher().process, "other-host:4242"}


async def test_connections_are_counted_by_transport_while_open():
    """A long-poll waiting for messages counts as an open long-poll connection of the
    process until it answers."""
    http = AsyncClient()
    config = (await http.post("/thywill/echo/session/")).json()
    base = counters.read()[0]["longpoll"]
    poll = asyncio.create_task(
        http.get(
            "/thywill/longpoll/",
            {"cursor": ""},
            headers={"X-Thywill-Token": config["token"]},
        )
    )
    await until(lambda: counters.read()[0]["longpoll"] == base + 1)
    await thywill.asend_to_client(config["clientId"], "wake")
    async with asyncio.timeout(3):
        assert (await poll).status_code == 200
    assert counters.read()[0]["longpoll"] == base


# --- the errors ------------------------------------------------------------------------


def test_the_error_ring_keeps_coded_records_without_their_message():
    """Records with a code, and errors, are kept (code, client, trace, level, time),
    never their message; others are not; the ring keeps the latest ``size``."""
    log = logging.getLogger("thywill.test")
    ring = ErrorRing(3)
    ring.attach()
    try:
        coded = {"thywill_code": "bad_token", "thywill_client_id": "c"}
        log.warning("token abc", extra=coded)
        log.info("nothing to see")
        log.error("boom", extra={"thywill_trace_id": "t1"})
        log.info("f", extra={"thywill_code": "failed", "thywill_trace_id": "-"})
        latest = ring.latest()
        assert [(e["code"], e["client"], e["trace"], e["level"]) for e in latest] == [
            ("bad_token", "c", None, "WARNING"),
            ("error", None, "t1", "ERROR"),
            ("failed", None, None, "INFO"),
        ]
        assert all("token abc" not in str(entry) for entry in latest)
        log.info("f", extra={"thywill_code": "last"})
        assert [e["code"] for e in ring.latest()] == ["error", "failed", "last"]
    finally:
        ring.detach()
    assert ring.latest() == []  # detached: forgotten


async def test_a_refused_request_reaches_the_inspector_as_an_error(thywill_connect):
    """A request refused for a bad token shows in the snapshot's errors with its code."""
    staff = await make_user("root", staff=True)
    page = await thywill_connect("inspector", user=staff)
    await page.receive_one("inspector.snapshot", timeout=3)
    response = await AsyncClient().get(
        "/thywill/longpoll/", {"wait": "0"}, headers={"X-Thywill-Token": "nope"}
    )
    assert response.status_code in (400, 403)
    code = response.json()["error"]["code"]
    async with asyncio.timeout(3):
        while True:
            snapshot = await page.receive_one("inspector.snapshot")
            codes = [error["code"] for error in snapshot.get("errors", [])]
            if code in codes:
                break


async def test_a_discarded_runtime_leaves_no_error_handler_behind(thywill_connect):
    """Replacing the runtime (a settings change) cancels the watcher and takes its error
    ring off the ``thywill`` logger: nothing is left collecting."""
    echo = await thywill_connect("echo")
    await echo.send({"text": "hi"})
    await echo.receive_one(timeout=1)
    ring = watcher().ring
    await until(lambda: ring in logging.getLogger("thywill").handlers)
    get_runtime().discard()
    assert ring not in logging.getLogger("thywill").handlers
