"""A logout ends the session's clients: every endpoint refuses them with 403
``session_ended`` and their open streams end within PRESENCE_TTL / 3."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model

from tests.unit.test_views import PROMPTLY, UNREACHABLE, Tab, next_chunk, open_event
from tests.unit.test_views import sse_stream as open_sse
from tests.unit.test_websocket import WAIT, frame, opened, refusal, refused, socket_for
from thywill.exceptions import PushUnavailableError
from thywill.feed.sessions import SESSION_ENDED_REASON
from thywill.identity.tokens import session_hash
from thywill.wire.sse import KEEPALIVE
from thywill.wiring.runtime import get_runtime

pytestmark = pytest.mark.django_db(transaction=True)

ENDED = {"error": {"code": "session_ended", "message": SESSION_ENDED_REASON}}
TTL = 0.6
"""PRESENCE_TTL in the tests of open streams: they must end within TTL / 3."""


@pytest.fixture
async def tab() -> Tab:
    """A bootstrapped tab of the default (echo) application, its user logged in."""
    user = await get_user_model().objects.acreate_user("ada", password="x")
    tab = Tab()
    await tab.client.aforce_login(user)
    await tab.bootstrap()
    return tab


async def log_out(tab: Tab, *, keep_cookie: bool = False) -> None:
    """Log the tab's browser out as django.contrib.auth.logout does; with
    ``keep_cookie``, the tab goes on sending the old session cookie (a stolen copy)."""
    cookie = tab.session_key
    await tab.client.alogout()
    if keep_cookie:
        tab.client.cookies[django_settings.SESSION_COOKIE_NAME] = cookie


@pytest.mark.parametrize("keep_cookie", [True, False], ids=["old_cookie", "no_cookie"])
async def test_send_and_longpoll_of_a_logged_out_session_are_session_ended(
    tab, keep_cookie
):
    """After a logout, sends and long-polls of its clients answer 403 session_ended,
    with the old session cookie and without it; another browser's go on."""
    other = Tab()
    await other.bootstrap()
    await tab.send("before")
    await log_out(tab, keep_cookie=keep_cookie)
    send = await tab.post_send(tab.batch("after"))
    poll = await tab.poll_response()
    waiting_poll = await tab.poll_response(wait=None)
    sse = await tab.sse_response()
    for response in (send, poll, waiting_poll, sse):
        assert (response.status_code, response.json()) == (403, ENDED)
    assert [r["status"] for r in await other.send("still here")] == ["ok"]
    assert (await other.poll_response()).status_code == 200


async def test_the_revocation_is_keyed_by_the_session_hash_for_token_max_age(tab, settings):
    """The push backend holds the session's hash, not its key, for TOKEN_MAX_AGE."""
    settings.THYWILL_LIMITS = {"TOKEN_MAX_AGE": 1}
    push = get_runtime().push
    key = tab.session_key
    await log_out(tab)
    assert await push.session_revoked(session_hash(key)) is True
    assert await push.session_revoked(key) is False
    await asyncio.sleep(1.2)
    assert await push.session_revoked(session_hash(key)) is False


async def test_a_waiting_longpoll_answers_session_ended_within_a_third_of_the_ttl(
    tab, settings
):
    """A long-poll waiting when its session is logged out answers 403 session_ended
    within PRESENCE_TTL / 3."""
    settings.THYWILL_LIMITS = {"PRESENCE_TTL": TTL, "LONGPOLL_TIMEOUT": 10}
    cookie = tab.session_key
    poll = asyncio.ensure_future(tab.poll_response(wait=None))
    await asyncio.sleep(0.1)
    assert not poll.done()
    await log_out(tab)
    tab.client.cookies[django_settings.SESSION_COOKIE_NAME] = cookie
    ended = time.monotonic()
    async with asyncio.timeout(TTL / 3 + PROMPTLY):
        response = await poll
    assert (response.status_code, response.json()) == (403, ENDED)
    assert time.monotonic() - ended < TTL / 3 + 0.3


async def test_an_open_sse_stream_ends_within_a_third_of_the_ttl(tab, settings, logs):
    """An SSE stream open when its session is logged out ends within PRESENCE_TTL / 3,
    logged once as session_ended."""
    settings.THYWILL_LIMITS = {"PRESENCE_TTL": TTL, "SSE_KEEPALIVE": 10}
    async with open_sse(tab) as (_, chunks):
        assert (await next_chunk(chunks)).endswith(open_event(""))
        logs.clear()
        await log_out(tab)
        ended = time.monotonic()
        async with asyncio.timeout(TTL / 3 + PROMPTLY):
            rest = [chunk.decode() async for chunk in chunks]
    assert time.monotonic() - ended < TTL / 3 + 0.3
    assert set(rest) <= {KEEPALIVE}
    assert f"Rejected /thywill/sse/: session_ended ({SESSION_ENDED_REASON})" in [
        r.getMessage() for r in logs.records
    ]


async def test_websocket_of_a_logged_out_session_is_refused(tab):
    """A WebSocket opened after the logout closes 4403 session_ended at once, with the
    old cookie and without it."""
    cookie = tab.session_key
    await log_out(tab)
    for header in (f"sessionid={cookie}", ""):
        socket = socket_for(tab, cookie=header)
        assert await socket.connect(WAIT) == (True, None)
        assert await refused(socket) == refusal("session_ended", SESSION_ENDED_REASON, 403)


async def test_an_open_websocket_closes_within_a_third_of_the_ttl(tab, settings):
    """A socket open when its session is logged out sends the error frame and closes
    4403 session_ended within PRESENCE_TTL / 3."""
    settings.THYWILL_LIMITS = {"PRESENCE_TTL": TTL, "SSE_KEEPALIVE": 10}
    socket = await opened(tab)
    await log_out(tab)
    ended = time.monotonic()
    async with asyncio.timeout(TTL / 3 + WAIT):
        assert await refused(socket) == refusal("session_ended", SESSION_ENDED_REASON, 403)
    assert time.monotonic() - ended < TTL / 3 + 0.3


async def test_a_send_frame_after_the_logout_closes_the_socket_at_once(tab):
    """A send frame on a socket whose session ended is not handled: the socket closes
    4403 session_ended (not after the feed's next check: PRESENCE_TTL is 60 s here)."""
    socket = await opened(tab)
    await log_out(tab)
    await socket.send_to('{"type":"send","messages":[{"seq":1,"data":"x"}]}')
    async with asyncio.timeout(WAIT):
        assert await refused(socket) == refusal("session_ended", SESSION_ENDED_REASON, 403)


async def test_logging_in_revokes_nothing_logging_out_then_does(settings):
    """login() cycles the session key without ending the session: nothing is revoked,
    a tab issued before it is refused as session_mismatch (its cookie changed), as
    before, and its open socket goes on; the logout that follows ends the new session's
    clients, and not the old key's."""
    tab = Tab()
    await tab.bootstrap()
    old_key = tab.session_key
    socket = await opened(tab)
    await get_user_model().objects.acreate_user("bob", password="x")
    assert await tab.client.alogin(username="bob", password="x")
    assert tab.session_key != old_key
    response = await tab.post_send(tab.batch("x"))
    assert (response.status_code, response.json()["error"]["code"]) == (
        403,
        "session_mismatch",
    )
    await socket.send_to('{"type":"send","messages":[{"seq":1,"data":"x"}]}')
    assert (await frame(socket))["type"] in {"sent", "batch"}
    await socket.disconnect()
    await tab.bootstrap()
    await log_out(tab, keep_cookie=True)
    response = await tab.post_send(tab.batch("y"))
    assert (response.status_code, response.json()) == (403, ENDED)
    push = get_runtime().push
    assert await push.session_revoked(session_hash(old_key)) is False


async def test_a_logout_fails_while_the_push_backend_is_unreachable(tab, settings):
    """With the push backend down, the logout raises and the session stays: a logout
    never ends without its tokens being revoked."""
    key = tab.session_key
    settings.THYWILL_COMPONENTS = {"push": {"BACKEND": UNREACHABLE}}
    with pytest.raises(PushUnavailableError):
        await tab.client.alogout()
    store = await tab.client.asession()
    assert store.session_key == key
    assert await store.aexists(key)
