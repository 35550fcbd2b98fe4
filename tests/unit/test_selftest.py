"""The deployment self-test's page and endpoints in-process: off by default, for staff
only, bounded in time, and measuring what they say (thywill/edge/views/selftest.py,
thywill/edge/selftest.py)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.checks import Error
from django.test import AsyncClient, override_settings

from thywill import conf
from thywill.edge import selftest as selftest_socket
from thywill.edge.selftest import SelfTestSockets
from thywill.edge.websocket import WebsocketRouter
from thywill.wire.sse import PADDING
from thywill.wiring.checks import check_settings

pytestmark = pytest.mark.django_db(transaction=True)

ON = override_settings(THYWILL_SELFTEST=True)
PAGE = "/thywill/selftest/"
CLOCK = "/thywill/selftest/clock/"
SSE = "/thywill/sse/selftest/"
LONGPOLL = "/thywill/longpoll/selftest/"
SOCKET = "/thywill/websocket/selftest/"
ENDPOINTS = [CLOCK, SSE, LONGPOLL]
CONFIG = re.compile(
    r'<script id="thywill-selftest-config" type="application/json">(.*?)</script>'
)
ORIGIN = "http://testserver"
WAIT = 3.0


async def logged_in(*, staff: bool) -> AsyncClient:
    """A browser logged in as a new user, staff or not."""
    users = get_user_model().objects
    user = await users.acreate_user(f"user{time.monotonic_ns()}", is_staff=staff)
    http = AsyncClient()
    await http.aforce_login(user)
    return http


def error_code(response) -> str:
    return json.loads(response.content)["error"]["code"]


# --- switched on, and for staff only ----------------------------------------------------


async def test_everything_is_not_found_while_the_setting_is_off():
    """By default the page and every endpoint answer thywill's JSON 404, even to staff."""
    http = await logged_in(staff=True)
    for url in [PAGE, *ENDPOINTS]:
        response = await http.get(url)
        assert (response.status_code, error_code(response)) == (404, "not_found"), url


@ON
async def test_an_anonymous_visitor_of_the_page_is_sent_to_the_admin_login():
    """As Django's staff_member_required does: to the admin's login, then back."""
    response = await AsyncClient().get(PAGE, {"idle": "1"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/thywill/selftest/%3Fidle%3D1"


@ON
async def test_users_who_are_not_staff_are_refused_everywhere():
    """A user who is not staff gets 403 from the page and every endpoint; an anonymous
    visitor gets 403 from the endpoints."""
    user = await logged_in(staff=False)
    for url in [PAGE, *ENDPOINTS]:
        response = await user.get(url)
        assert (response.status_code, error_code(response)) == (403, "refused"), url
    for url in ENDPOINTS:
        assert (await AsyncClient().get(url)).status_code == 403, url


@ON
async def test_the_endpoints_take_get_only():
    """A POST changes nothing and needs no CSRF token: it is answered 405."""
    http = await logged_in(staff=True)
    for url in [PAGE, *ENDPOINTS]:
        response = await http.post(url)
        assert (response.status_code, error_code(response)) == (405, "method_not_allowed")


@ON
async def test_the_page_runs_its_script_under_the_policy_with_its_nonce():
    """The page is served to staff with THYWILL_CSP: its one script is a static file that
    carries the response's nonce, and no script is inline but the JSON config."""
    http = await logged_in(staff=True)
    response = await http.get(PAGE)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    policy = response["Content-Security-Policy"]
    [nonce] = re.findall(r"'nonce-([^']+)'", policy)
    html = response.content.decode()
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts == [
        '<script id="thywill-selftest-config" type="application/json">',
        f'<script src="/static/thywill/selftest.js" nonce="{nonce}" defer>',
    ]
    assert "style=" not in html and "<style" not in html


@ON
@override_settings(THYWILL_LIMITS={"LONGPOLL_TIMEOUT": 25, "SSE_KEEPALIVE": 15})
async def test_the_page_config_names_the_probes_and_thywills_timings():
    """The idle check holds thywill's own silences plus a margin; ?idle= overrides them,
    capped."""
    http = await logged_in(staff=True)
    config = json.loads(CONFIG.search((await http.get(PAGE)).content.decode())[1])
    assert config["endpoints"] == {
        "websocket": SOCKET,
        "sse": SSE,
        "longpoll": LONGPOLL,
        "clock": CLOCK,
    }
    assert config["limits"] == {"longpollTimeout": 25, "sseKeepalive": 15, "maxHold": 60.0}
    assert config["idle"] == {"longpoll": 30, "stream": 20, "requested": None}
    assert config["transports"] == ["websocket", "sse", "longpoll"]
    short = json.loads(
        CONFIG.search((await http.get(PAGE, {"idle": "1.5"})).content.decode())[1]
    )
    assert short["idle"]["requested"] == 1.5
    long = json.loads(
        CONFIG.search((await http.get(PAGE, {"idle": "3600"})).content.decode())[1]
    )
    assert long["idle"]["requested"] == conf.SELFTEST_MAX_HOLD
    assert (await http.get(PAGE, {"idle": "soon"})).status_code == 400


# --- the probes -------------------------------------------------------------------------


@ON
async def test_the_clock_answers_the_servers_time_in_milliseconds():
    """The clock's ``now`` lies between the times taken around the request."""
    http = await logged_in(staff=True)
    before = time.time() * 1000
    response = await http.get(CLOCK)
    after = time.time() * 1000
    assert response["Cache-Control"] == "no-store"
    assert before - 1 <= json.loads(response.content)["now"] <= after + 1


@ON
async def test_the_long_poll_probe_answers_after_its_hold():
    """The answer comes after the hold asked for, not before, and says how long it was."""
    http = await logged_in(staff=True)
    started = time.monotonic()
    async with asyncio.timeout(WAIT):
        response = await http.get(LONGPOLL, {"hold": "0.3"})
    elapsed = time.monotonic() - started
    body = json.loads(response.content)
    assert response.status_code == 200 and body["drained"] is False
    assert 0.3 <= body["held"] <= elapsed


@ON
async def test_every_hold_is_capped_on_the_server(monkeypatch):
    """However long a probe is asked to hold, it holds at most SELFTEST_MAX_HOLD."""
    monkeypatch.setattr(conf, "SELFTEST_MAX_HOLD", 0.2)
    http = await logged_in(staff=True)
    async with asyncio.timeout(WAIT):
        response = await http.get(LONGPOLL, {"hold": "86400"})
    assert json.loads(response.content)["held"] < 1


@ON
@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf"])
async def test_a_hold_that_is_not_a_number_of_seconds_is_refused(value):
    """A bad hold is a 400, not a default."""
    http = await logged_in(staff=True)
    response = await http.get(LONGPOLL, {"hold": value})
    assert (response.status_code, error_code(response)) == (400, "bad_request")


async def read_events(response, timeout: float) -> list[tuple[float, str]]:
    """Each event of a stream (its ``event:`` name) with the time its chunk arrived."""
    events = []
    async with asyncio.timeout(timeout):
        async for chunk in response.streaming_content:
            at = time.monotonic()
            events.extend(
                (at, name) for name in re.findall(r"^event: (\w+)$", chunk.decode(), re.M)
            )
    return events


@ON
async def test_the_event_stream_probe_spaces_its_events_as_the_transport_frames_them():
    """The stream starts with the transport's padding and headers, then sends its ticks
    the interval apart, each in a chunk of its own, and ends with ``done``."""
    http = await logged_in(staff=True)
    started = time.monotonic()
    response = await http.get(SSE, {"events": "3", "interval": "0.15"})
    assert response["Content-Type"] == "text/event-stream"
    assert response["X-Accel-Buffering"] == "no"
    assert response["Cache-Control"] == "no-cache"
    chunks = aiter(response.streaming_content)
    first = (await anext(chunks)).decode()
    assert first.startswith(PADDING) and "event: open" in first
    response.streaming_content = chunks
    events = await read_events(response, WAIT)
    assert [name for _, name in events] == ["tick", "tick", "tick", "done"]
    ticks = [at for at, name in events if name == "tick"]
    gaps = [
        later - earlier for earlier, later in zip([started, *ticks], ticks, strict=False)
    ]
    assert all(gap >= 0.14 for gap in gaps), gaps


@ON
async def test_the_event_stream_probe_is_bounded_in_events_and_time(monkeypatch):
    """At most 10 events, at most 1 s apart, and an idle time within the cap."""
    monkeypatch.setattr(conf, "SELFTEST_MAX_HOLD", 10.3)  # the idle time's cap is 0.3 s
    http = await logged_in(staff=True)
    response = await http.get(SSE, {"events": "1000", "interval": "0", "idle": "3600"})
    started = time.monotonic()
    events = await read_events(response, WAIT)
    assert [name for _, name in events] == ["open", *["tick"] * 10, "done"]
    assert 0.3 <= time.monotonic() - started < 2


# --- the WebSocket echo -----------------------------------------------------------------

application = SelfTestSockets(WebsocketRouter())


async def socket(http: AsyncClient | None, path: str = SOCKET, origin: str = ORIGIN):
    """A communicator with the headers a browser of ``http``'s session would send."""
    headers = [(b"host", b"testserver"), (b"origin", origin.encode())]
    if http is not None:
        cookie = http.cookies[settings.SESSION_COOKIE_NAME].value
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def frame(communicator: WebsocketCommunicator) -> dict:
    return json.loads(await communicator.receive_from(WAIT))


@ON
async def test_the_socket_opens_for_staff_and_echoes():
    """A staff user's socket gets ``open``, then each text frame back as ``echo``."""
    communicator = await socket(await logged_in(staff=True))
    assert await communicator.connect(WAIT) == (True, None)
    assert (await frame(communicator))["type"] == "open"
    await communicator.send_to(text_data="ping-1")
    echo = await frame(communicator)
    assert (echo["type"], echo["data"]) == ("echo", "ping-1")
    await communicator.disconnect()


@ON
async def test_the_socket_says_idle_after_its_silence():
    """With ?idle=N the socket stays silent N seconds, then says ``idle``."""
    communicator = await socket(await logged_in(staff=True), SOCKET + "?idle=0.3")
    started = time.monotonic()
    assert await communicator.connect(WAIT) == (True, None)
    assert (await frame(communicator))["type"] == "open"
    assert (await frame(communicator))["type"] == "idle"
    assert time.monotonic() - started >= 0.3
    await communicator.disconnect()


@ON
async def test_the_socket_closes_on_too_many_or_too_large_frames():
    """It echoes MAX_FRAMES short frames at most; a long one closes it (1008)."""
    communicator = await socket(await logged_in(staff=True))
    await communicator.connect(WAIT)
    await frame(communicator)
    await communicator.send_to(text_data="x" * (selftest_socket.MAX_FRAME_BYTES + 1))
    assert await communicator.receive_output(WAIT) == {
        "type": "websocket.close",
        "code": 1008,
    }
    await communicator.disconnect()


@ON
async def test_the_socket_refuses_other_users_and_other_origins():
    """Anonymous and non-staff sessions get ``refused`` (4403), another site's page
    ``bad_origin``: an error frame, then the close."""
    cases = [
        (await socket(None), "refused"),
        (await socket(await logged_in(staff=False)), "refused"),
        (
            await socket(await logged_in(staff=True), origin="https://evil.example"),
            "bad_origin",
        ),
    ]
    for communicator, code in cases:
        assert await communicator.connect(WAIT) == (True, None)
        assert (await frame(communicator))["error"]["code"] == code
        close = await communicator.receive_output(WAIT)
        assert close == {"type": "websocket.close", "code": 4403, "reason": code}
        await communicator.disconnect()


async def test_the_socket_is_not_found_while_the_setting_is_off():
    """Off, the self-test's socket closes 4404 without looking at the session."""
    communicator = await socket(await logged_in(staff=True))
    assert await communicator.connect(WAIT) == (True, None)
    assert (await frame(communicator))["error"]["code"] == "not_found"
    close = await communicator.receive_output(WAIT)
    assert close["code"] == 4404
    await communicator.disconnect()


@ON
@override_settings(ROOT_URLCONF="tests.apps.prefixed_urls")
async def test_under_another_prefix_without_the_admin_everything_follows_the_prefix():
    """The page names its endpoints under the project's prefix, the socket is found
    there, and an anonymous visitor is sent to LOGIN_URL when there is no admin."""
    anonymous = await AsyncClient().get("/rt/selftest/")
    assert anonymous["Location"] == "/accounts/login/?next=/rt/selftest/"
    http = await logged_in(staff=True)
    config = json.loads(
        CONFIG.search((await http.get("/rt/selftest/")).content.decode())[1]
    )
    assert set(config["endpoints"].values()) == {
        "/rt/websocket/selftest/",
        "/rt/sse/selftest/",
        "/rt/longpoll/selftest/",
        "/rt/selftest/clock/",
    }
    prefixed = SelfTestSockets(WebsocketRouter())  # reads the URLconf on first use
    headers = [
        (b"host", b"testserver"),
        (b"origin", ORIGIN.encode()),
        (b"cookie", f"sessionid={http.cookies['sessionid'].value}".encode()),
    ]
    communicator = WebsocketCommunicator(
        prefixed, "/rt/websocket/selftest/", headers=headers
    )
    assert await communicator.connect(WAIT) == (True, None)
    assert (await frame(communicator))["type"] == "open"
    await communicator.disconnect()


# --- the setting ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_a_setting_that_is_not_a_bool_is_reported(value):
    """THYWILL_SELFTEST must be True or False (thywill.E018)."""
    with override_settings(THYWILL_SELFTEST=value):
        assert check_settings() == [
            Error(
                f"THYWILL_SELFTEST must be True or False, not {value!r}.", id="thywill.E018"
            )
        ]


def test_every_section_the_page_names_is_in_the_deployment_guide():
    """The anchors of documentation/deployment.md the page's advice names exist there."""
    root = Path(__file__).resolve().parents[2]
    script = (root / "thywill/static/thywill/selftest.js").read_text()
    guide = (root / "documentation/deployment.md").read_text()
    named = set(re.findall(r"'(the-[a-z-]+-check)'", script))
    headings = {
        re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")
        for title in re.findall(r"^#+ (.+)$", guide, re.M)
    }
    assert named == {
        "the-websocket-check",
        "the-event-stream-check",
        "the-long-poll-check",
        "the-idle-connection-check",
        "the-clock-check",
    }
    assert named | {"self-test"} <= headings
