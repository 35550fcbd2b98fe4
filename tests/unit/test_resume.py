"""THYWILL_RESUME: a client is issued pending and activated by its first request, so a
reloaded page that resumes its tab's client leaves the one issued to it unused, unseen
and free (documentation/transports.md, "Reloads")."""

from __future__ import annotations

import pytest
from django.test import AsyncClient

from tests.support.members import channel_data
from tests.unit.test_views import Tab, data_of, error
from tests.unit.test_websocket import WAIT, frame, opened, refusal, refused, socket_for
from thywill import testing
from thywill.conf import get_resume
from thywill.exceptions import ConfigurationError
from thywill.feed.channels import group_channel
from thywill.identity.tokens import signed_identity
from thywill.models import Client
from thywill.wiring.checks import check_settings
from thywill.wiring.runtime import get_runtime

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("resume_on"),
]

PAGE = "/thywill/reloads/init/"
HALL = group_channel("reloads", "hall")


@pytest.fixture
def resume_on(settings):
    """THYWILL_RESUME as its default, True (the rest of the suite turns it off)."""
    del settings.THYWILL_RESUME


async def announced() -> list[tuple[str, str]]:
    """What the hall's members were told, in order: (``thywill.join``/``leave``, id)."""
    return [
        (data["type"], data["clientId"])
        for data in await channel_data(HALL)
        if isinstance(data, dict) and data.get("type") in ("thywill.join", "thywill.leave")
    ]


async def test_a_page_issues_a_pending_client_that_nothing_knows_of():
    """The page's client is pending: no record, no connect event, no group, no lease."""
    tab = Tab()
    config = await tab.bootstrap(PAGE)
    assert config["resume"] is True
    assert signed_identity(tab.token, max_age=60).pending is True
    assert not await Client.objects.filter(id=tab.client_id).aexists()
    assert await channel_data(tab.channel) == []
    assert await get_runtime().push.memberships(tab.client_id) == []


async def test_its_first_request_activates_it_once():
    """The first long-poll records the client and runs its connect event (it joins the
    hall, is welcomed); later requests do not run it again."""
    tab = Tab()
    await tab.bootstrap(PAGE)
    first = await tab.poll()
    assert data_of(first) == [{"welcome": tab.client_id}]
    assert await Client.objects.filter(id=tab.client_id).aexists()
    second = await tab.poll()
    assert data_of(second) == [{"welcome": tab.client_id}]
    assert await announced() == [("thywill.join", tab.client_id)]
    assert [r["status"] for r in await tab.send({"to": tab.client_id, "n": 2})] == ["ok"]
    later = await tab.poll(first["cursor"])
    assert data_of(later) == [{"n": 1}, {"n": 2}]


async def test_a_reload_that_resumes_loses_nothing_and_announces_nothing(settings):
    """Reloads in the session (pages issuing clients never used) while messages are
    sent to the tab's client: resuming with its token and cursor gets each message
    once, in order; no join or leave is announced, and the session's limit of clients
    is not eaten: the resumed client is not ended."""
    settings.THYWILL_LIMITS = {"MAX_CLIENTS_PER_SESSION": 2}
    tab = Tab()
    await tab.bootstrap(PAGE)
    cursor = (await tab.poll())["cursor"]
    other = Tab()
    await other.bootstrap(PAGE)
    await other.poll()
    before = await announced()
    token, client_id = tab.token, tab.client_id
    for n in range(1, 6):
        assert await other.send({"to": client_id, "n": 1}) == [{"seq": n, "status": "ok"}]
        await tab.bootstrap(PAGE)  # the reloaded page, whose client goes unused
    tab.config["token"] = token  # what the tab's sessionStorage kept
    answer = await tab.poll(cursor)
    mine = [m["data"] for m in answer["messages"] if m["channel"] != HALL]
    assert mine == [{"n": 1}] * 5
    assert answer["reset"] is None
    assert await announced() == before
    assert await Client.objects.filter(session_key=tab.session_key).acount() == 1
    assert (await tab.poll(answer["cursor"]))["messages"] == []


async def test_a_websocket_activates_it_and_a_refused_connect_closes_4403(settings):
    """A WebSocket is a first request as any: it activates the client (the welcome
    comes), and when the connect event fails it is refused with close code 4403."""
    tab = Tab()
    await tab.bootstrap(PAGE)
    socket = await opened(tab)
    batch = await frame(socket)
    assert [m["data"] for m in batch["messages"]] == [{"welcome": tab.client_id}]
    await socket.disconnect()
    settings.THYWILL_PIPELINE = ["tests.apps.pages.RefuseConnect"]
    other = Tab()
    await other.bootstrap(PAGE)
    socket = socket_for(other)
    assert await socket.connect(WAIT) == (True, None)
    assert await refused(socket) == refusal("refused", "No one may connect today.", 403)


async def test_the_token_is_refused_with_another_sessions_cookie():
    """A stored token copied to another browser is refused 403 session_mismatch, and
    is not activated there."""
    tab = Tab()
    await tab.bootstrap(PAGE)
    thief = Tab(AsyncClient())
    await thief.bootstrap(PAGE)
    thief.config["token"] = tab.token
    response = await thief.poll_response()
    assert (response.status_code, response.json()) == (
        403,
        error("session_mismatch", "The token belongs to another session."),
    )
    assert not await Client.objects.filter(id=tab.client_id).aexists()


async def test_a_connect_event_that_fails_refuses_the_first_request_and_ends_it(settings):
    """The connect event runs on the first request: when it fails, that request is 403
    refused, and the client is ended (disconnected) from then on."""
    settings.THYWILL_PIPELINE = ["tests.apps.pages.RefuseConnect"]
    tab = Tab()
    await tab.bootstrap(PAGE)
    refused = await tab.poll_response()
    assert (refused.status_code, refused.json()) == (
        403,
        error("refused", "No one may connect today."),
    )
    again = await tab.poll_response()
    assert (again.status_code, again.json()["error"]["code"]) == (410, "disconnected")


async def test_with_resuming_off_the_page_activates_its_client(settings):
    """THYWILL_RESUME = False: the page records its client and runs its connect event
    (today's behaviour); its token is not pending."""
    settings.THYWILL_RESUME = False
    tab = Tab()
    config = await tab.bootstrap(PAGE)
    assert config["resume"] is False
    assert signed_identity(tab.token, max_age=60).pending is False
    assert await Client.objects.filter(id=tab.client_id).aexists()
    assert await announced() == [("thywill.join", tab.client_id)]
    assert data_of(await tab.poll()) == [{"welcome": tab.client_id}]


def test_a_resume_setting_that_is_not_a_bool_is_e016(settings):
    """THYWILL_RESUME = "yes" is thywill.E016."""
    settings.THYWILL_RESUME = "yes"
    with pytest.raises(ConfigurationError):
        get_resume()
    [message] = check_settings()
    assert (message.id, message.msg) == (
        "thywill.E016",
        "THYWILL_RESUME must be True or False, not 'yes'.",
    )


async def test_the_testing_client_activates_its_pending_client():
    """``thywill.testing.connect()`` runs the connect event of its pending client, as a
    browser's first connection does, and reports its refusal."""
    client = await testing.connect("reloads")
    assert await client.receive() == [{"welcome": client.client_id}]
    assert await announced() == [("thywill.join", client.client_id)]


async def test_the_testing_client_reports_a_refused_first_request(settings):
    """A connect event that fails makes ``thywill.testing.connect()`` fail."""
    settings.THYWILL_PIPELINE = ["tests.apps.pages.RefuseConnect"]
    with pytest.raises(AssertionError, match="403"):
        await testing.connect("reloads")
