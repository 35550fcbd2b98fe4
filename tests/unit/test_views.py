"""The HTTP endpoints in-process: bootstrap page, send, long-poll, SSE and their errors."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import time

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.test import AsyncClient

from tests.unit.expected import client_config
from thywill.edge.csrf import JsonCsrfViewMiddleware
from thywill.edge.feeds import TOKEN_HEADER
from thywill.feed.cursor import Cursor
from thywill.identity.tokens import (
    CLIENT_ID,
    TOKEN_SALT,
    ClientIdentity,
    issue_token,
    new_client_id,
    session_hash,
    verify_token,
)
from thywill.models import Client
from thywill.wire.sse import KEEPALIVE, PADDING
from thywill.wiring.runtime import reset_runtime

pytestmark = pytest.mark.django_db(transaction=True)

CONFIG_SCRIPT = re.compile(
    r'<script id="thywill-config" type="application/json">(.*?)</script>', re.S
)
LOCMEM = "thywill.push.locmem.LocMemPushBackend"
UNREACHABLE = "tests.apps.fixture_components.UnreachablePushBackend"
PROMPTLY = 2.0
HANDLER_FAILED = "The application failed to handle this message."


def b64(raw: bytes) -> str:
    """URL-safe base64 without padding, as cursors are written."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Tab:
    """One browser tab: an AsyncClient (own cookies, so own session) and its config."""

    def __init__(self, client: AsyncClient | None = None) -> None:
        self.client = client or AsyncClient()
        self.config: dict = {}
        self.seq = 0

    async def bootstrap(self, path: str = "/thywill/init/", **query: str) -> dict:
        response = await self.client.get(path, query)
        assert response.status_code == 200, response.content
        [raw] = CONFIG_SCRIPT.findall(response.content.decode())
        self.config = json.loads(raw)
        return self.config

    @property
    def token(self) -> str:
        return self.config["token"]

    @property
    def client_id(self) -> str:
        return self.config["clientId"]

    @property
    def channel(self) -> str:
        return f"client:{self.client_id}"

    @property
    def session_key(self) -> str:
        return self.client.cookies[django_settings.SESSION_COOKIE_NAME].value

    async def post_send(self, body, **headers: str):
        """POST a raw body (bytes/str) or a JSON-encodable value to the send endpoint."""
        if not isinstance(body, bytes | str):
            body = json.dumps(body)
        return await self.client.post(
            "/thywill/send/", body, content_type="application/json", headers=headers
        )

    def batch(self, *data) -> dict:
        """A send body with the next sequence numbers."""
        messages = []
        for item in data:
            self.seq += 1
            messages.append({"seq": self.seq, "data": item})
        return {"token": self.token, "messages": messages}

    async def send(self, *data) -> list[dict]:
        response = await self.post_send(self.batch(*data))
        assert response.status_code == 200, response.content
        return response.json()["results"]

    async def poll_response(
        self, cursor: str = "", wait: str | None = "0", *, token: str | None = None, **query
    ):
        """A long-poll, its token in the X-Thywill-Token header (``token`` instead of the
        tab's own)."""
        params = {"cursor": cursor, **query}
        if wait is not None:
            params["wait"] = wait
        return await self.client.get(
            "/thywill/longpoll/", params, headers=token_header(self, token)
        )

    async def sse_response(
        self, query=None, *, token: str | None = None, headers: dict | None = None
    ):
        """Open an SSE stream, its token in the X-Thywill-Token header."""
        headers = {**token_header(self, token), **(headers or {})}
        return await self.client.get("/thywill/sse/", query or {}, headers=headers)

    async def poll(self, cursor: str = "", wait: str | None = "0") -> dict:
        response = await self.poll_response(cursor, wait)
        assert response.status_code == 200, response.content
        return json.loads(response.content)


def token_header(tab: Tab, token: str | None = None) -> dict[str, str]:
    """The header that carries a token (the tab's own, or ``token``)."""
    return {TOKEN_HEADER: tab.token if token is None else token}


def data_of(answer: dict) -> list:
    """The data of each message of a long-poll answer."""
    return [m["data"] for m in answer["messages"]]


def error(code: str, message: str) -> dict:
    """The protocol's error body."""
    return {"error": {"code": code, "message": message}}


@pytest.fixture
async def tab() -> Tab:
    """A bootstrapped tab of the default (echo) application."""
    tab = Tab()
    await tab.bootstrap()
    return tab


@pytest.fixture
async def testkit() -> Tab:
    """A bootstrapped tab of the testkit application."""
    tab = Tab()
    await tab.bootstrap("/thywill/testkit/init/")
    return tab


# --- the bootstrap page ---------------------------------------------------------------


async def test_bootstrap_page_hands_out_its_config():
    """GET /thywill/init/ answers an HTML page carrying the client's configuration."""
    tab = Tab()
    response = await tab.client.get("/thywill/init/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    [raw] = CONFIG_SCRIPT.findall(response.content.decode())
    config = json.loads(raw)
    assert config == client_config(config, "echo")
    assert CLIENT_ID.fullmatch(config["clientId"])
    assert config["csrfToken"]


async def test_bootstrap_records_the_client_bound_to_its_session(tab):
    """The page creates a session and a Client row, and its token proves both."""
    row = await Client.objects.aget(id=tab.client_id)
    assert (row.application, row.session_key, row.user_id) == (
        "echo",
        tab.session_key,
        None,
    )
    identity = verify_token(tab.token, tab.session_key, max_age=60)
    assert identity == ClientIdentity(tab.client_id, "echo", session_hash(tab.session_key))


async def test_each_page_load_is_a_new_client():
    """Two loads in one browser are two clients of the same session."""
    tab = Tab()
    first = await tab.bootstrap()
    second = await tab.bootstrap()
    assert first["clientId"] != second["clientId"]
    rows = {(c.id, c.session_key) async for c in Client.objects.all()}
    assert rows == {
        (first["clientId"], tab.session_key),
        (second["clientId"], tab.session_key),
    }


async def test_logged_in_user_is_recorded():
    """A logged-in user's id is in the token and on the Client row."""
    user = await get_user_model().objects.acreate_user("ada", password="x")
    tab = Tab()
    await tab.client.aforce_login(user)
    await tab.bootstrap()
    identity = verify_token(tab.token, tab.session_key, max_age=60)
    assert identity.user_id == str(user.pk)
    row = await Client.objects.aget(id=tab.client_id)
    assert row.user_id == user.pk


@pytest.mark.parametrize("transport", ["longpoll", "sse", "websocket"])
async def test_transport_can_be_forced(transport):
    """?transport= names the transport the page must use."""
    config = await Tab().bootstrap(transport=transport)
    assert config["forcedTransport"] == transport


@pytest.mark.parametrize("transport", ["carrier-pigeon", "WebSocket", ""])
async def test_unknown_transport_is_bad_transport(transport):
    """?transport= naming no enabled transport answers 400 bad_transport."""
    response = await Tab().client.get("/thywill/init/", {"transport": transport})
    assert (response.status_code, response.json()) == (
        400,
        error(
            "bad_transport",
            f"Unknown transport {transport!r}; enabled: websocket, sse, longpoll.",
        ),
    )


async def test_transport_not_enabled_is_bad_transport(settings):
    """A transport left out of THYWILL_TRANSPORTS cannot be forced."""
    settings.THYWILL_TRANSPORTS = ["longpoll"]
    response = await Tab().client.get("/thywill/init/", {"transport": "sse"})
    assert (response.status_code, response.json()["error"]["code"]) == (
        400,
        "bad_transport",
    )


async def test_named_application_is_served_and_connected(testkit):
    """/thywill/<app>/init/ serves that application and runs its connect handler."""
    assert testkit.config["application"] == "testkit"
    answer = await testkit.poll()
    [message] = answer["messages"]
    assert message == {
        "channel": testkit.channel,
        "id": message["id"],
        "data": {"welcome": testkit.client_id},
    }


async def test_unknown_application_is_404_json():
    """/thywill/<unknown>/init/ answers 404 unknown_application."""
    response = await Tab().client.get("/thywill/nope/init/")
    assert (response.status_code, response.json()) == (
        404,
        error("unknown_application", "No application is named 'nope'."),
    )


@pytest.mark.parametrize("name", ["chat.room", "ch@t", "%C3%A9cho", "Echo"])
async def test_any_unknown_application_name_is_404_json(name):
    """Every unknown name under /thywill/<app>/init/, odd characters too, is JSON 404."""
    response = await Tab().client.get(f"/thywill/{name}/init/")
    assert (response.status_code, response["Content-Type"]) == (404, "application/json")
    assert response.json()["error"]["code"] == "unknown_application"


async def test_stale_session_cookie_gets_a_new_session():
    """A session cookie naming no session is replaced, and the token binds the new one."""
    tab = Tab()
    tab.client.cookies[django_settings.SESSION_COOKIE_NAME] = "no-such-session-key-000"
    await tab.bootstrap()
    assert tab.session_key != "no-such-session-key-000"
    identity = verify_token(tab.token, tab.session_key, max_age=60)
    assert identity.session_hash == session_hash(tab.session_key)


async def test_post_to_the_bootstrap_page_is_405():
    """The bootstrap page allows GET only."""
    response = await Tab().client.post("/thywill/init/")
    assert (response.status_code, response["Allow"], response.json()) == (
        405,
        "GET",
        error("method_not_allowed", "POST is not allowed here; use GET."),
    )


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/thywill/init/", 405, "method_not_allowed"),
        ("/thywill/echo/init/", 405, "method_not_allowed"),
        ("/thywill/health/", 405, "method_not_allowed"),
        ("/thywill/longpoll/", 405, "method_not_allowed"),
        ("/thywill/websocket/", 426, "upgrade_required"),
        ("/thywill/no/such/path/", 404, "not_found"),
    ],
)
async def test_post_without_csrf_token_gets_the_json_answer(path, status, code):
    """A POST with no CSRF token to an endpoint that takes no POSTs gets the protocol's
    JSON answer, not the CSRF middleware's HTML 403 (found by tests/fuzz)."""
    response = await AsyncClient(enforce_csrf_checks=True).post(path)
    assert (response.status_code, response["Content-Type"]) == (status, "application/json")
    assert response.json()["error"]["code"] == code


# --- CSRF checks remembered ---------------------------------------------------------------


async def test_a_csrf_check_that_passed_is_remembered_and_only_that():
    """A send whose CSRF check passed is remembered by what the check read; the same
    cookie with another token, or another Origin, is checked again, and refused."""
    passed = JsonCsrfViewMiddleware.passed
    strict = Tab(AsyncClient(enforce_csrf_checks=True))
    await strict.bootstrap()
    good = {"X-CSRFToken": strict.config["csrfToken"]}
    before = len(passed)
    assert (await strict.post_send(strict.batch("a"), **good)).status_code == 200
    assert len(passed) == before + 1
    assert (await strict.post_send(strict.batch("b"), **good)).status_code == 200
    assert len(passed) == before + 1  # passed again as remembered: nothing new
    for refused in (
        {"X-CSRFToken": "w" * 64},
        {**good, "Origin": "https://evil.example"},
        {},
    ):
        response = await strict.post_send(strict.batch("c"), **refused)
        assert response.status_code == 403, refused
        assert response.json()["error"]["code"] == "csrf_failed"
        strict.seq -= 1  # refused before it was handled: the next send reuses it
    assert len(passed) == before + 1  # a refusal is never remembered


async def test_remembered_csrf_checks_are_forgotten_when_a_setting_changes(settings):
    """The check reads settings: a change forgets what passed, and the next request is
    checked in full again."""
    strict = Tab(AsyncClient(enforce_csrf_checks=True))
    await strict.bootstrap()
    headers = {"X-CSRFToken": strict.config["csrfToken"]}
    assert (await strict.post_send(strict.batch("a"), **headers)).status_code == 200
    assert len(JsonCsrfViewMiddleware.passed) > 0
    settings.CSRF_FAILURE_VIEW = "thywill.edge.errors.csrf_failure"
    assert len(JsonCsrfViewMiddleware.passed) == 0
    assert (await strict.post_send(strict.batch("b"), **headers)).status_code == 200
    assert len(JsonCsrfViewMiddleware.passed) == 1


# --- send -------------------------------------------------------------------------------


async def test_send_is_handled_and_delivered(tab):
    """A sent message is handled (ok) and the echo comes back on the client's channel."""
    assert await tab.send({"text": "hello"}) == [{"seq": 1, "status": "ok"}]
    answer = await tab.poll()
    [message] = answer["messages"]
    assert message == {
        "channel": tab.channel,
        "id": message["id"],
        "data": {"text": "hello"},
    }


async def test_retried_send_is_a_duplicate(tab):
    """Sending the same batch again answers duplicate and delivers nothing twice."""
    body = tab.batch("once", "twice")
    first = await tab.post_send(body)
    again = await tab.post_send(body)
    assert first.json() == {
        "results": [{"seq": 1, "status": "ok"}, {"seq": 2, "status": "ok"}]
    }
    assert again.json() == {
        "results": [{"seq": 1, "status": "duplicate"}, {"seq": 2, "status": "duplicate"}]
    }
    assert data_of(await tab.poll()) == ["once", "twice"]


async def test_concurrent_retries_are_handled_once(tab):
    """The same batch posted five times at once is handled once; the rest are duplicates."""
    body = tab.batch("only once")
    async with asyncio.timeout(PROMPTLY):
        responses = await asyncio.gather(*(tab.post_send(body) for _ in range(5)))
    statuses = sorted(r.json()["results"][0]["status"] for r in responses)
    assert statuses == ["duplicate"] * 4 + ["ok"]
    assert data_of(await tab.poll()) == ["only once"]


async def test_batch_overlapping_handled_seqs(tab):
    """In a batch, seqs already handled are duplicates and the new ones are handled."""
    await tab.send("a", "b")
    body = {
        "token": tab.token,
        "messages": [{"seq": 2, "data": "b"}, {"seq": 3, "data": "c"}],
    }
    response = await tab.post_send(body)
    assert response.json() == {
        "results": [{"seq": 2, "status": "duplicate"}, {"seq": 3, "status": "ok"}]
    }
    assert data_of(await tab.poll()) == ["a", "b", "c"]


async def test_batch_is_handled_in_order(tab):
    """The messages of a batch are handled, and delivered, in order."""
    results = await tab.send(*range(10))
    assert results == [{"seq": n, "status": "ok"} for n in range(1, 11)]
    assert data_of(await tab.poll()) == list(range(10))


async def test_failing_handler_sends_nothing_and_the_batch_goes_on(testkit, logs):
    """A handler that raises answers error and releases nothing; the rest still run."""
    await testkit.poll()  # the welcome
    logs.clear()
    results = await testkit.send({"raise": True}, "after")
    trace_id = results[0].pop("traceId")
    assert results == [
        {"seq": 1, "status": "error", "reason": HANDLER_FAILED},
        {"seq": 2, "status": "ok"},
    ]
    answer = await testkit.poll()
    assert data_of(answer) == [{"welcome": testkit.client_id}, "after"]
    assert [(r.name, r.levelname, r.getMessage()) for r in logs.records] == [
        (
            "thywill",
            "ERROR",
            f"Handler for message in application 'testkit' failed trace={trace_id}",
        )
    ]
    assert logs.records[0].exc_info[0] is RuntimeError
    # The result's trace id finds the log line of the failure.
    assert logs.records[0].thywill_trace_id == trace_id


async def test_failed_seq_is_not_handled_again(testkit):
    """A message whose handler failed is a duplicate when sent again."""
    body = testkit.batch({"raise": True})
    await testkit.post_send(body)
    again = await testkit.post_send(body)
    assert again.json() == {"results": [{"seq": 1, "status": "duplicate"}]}


async def test_message_forwarded_to_another_client(testkit):
    """A handler can send to another client by id; only that client receives it."""
    other = Tab()
    await other.bootstrap("/thywill/testkit/init/")
    sender_start = (await testkit.poll())["cursor"]
    receiver_start = (await other.poll())["cursor"]
    assert await testkit.send({"to": other.client_id, "data": "psst"}) == [
        {"seq": 1, "status": "ok"}
    ]
    assert data_of(await other.poll(receiver_start)) == [
        {"from": testkit.client_id, "data": "psst"}
    ]
    assert data_of(await testkit.poll(sender_start)) == []


async def test_sends_of_two_clients_are_counted_separately(tab):
    """Two clients may both use seq 1: sequence numbers are per client."""
    other = Tab()
    await other.bootstrap()
    assert await tab.send("mine") == [{"seq": 1, "status": "ok"}]
    assert await other.send("theirs") == [{"seq": 1, "status": "ok"}]
    assert (data_of(await tab.poll()), data_of(await other.poll())) == (
        ["mine"],
        ["theirs"],
    )


# --- long-poll --------------------------------------------------------------------------


async def test_longpoll_with_nothing_answers_at_once(tab):
    """wait=0 answers at once with no messages, the empty cursor and no reset."""
    response = await tab.poll_response()
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert json.loads(response.content) == {"messages": [], "cursor": "", "reset": None}


async def test_longpoll_returns_messages_and_a_cursor(tab):
    """A poll returns the messages with their ids and the cursor after the last one."""
    await tab.send("one", "two")
    answer = await tab.poll()
    first, second = answer["messages"]
    assert answer == {
        "messages": [
            {"channel": tab.channel, "id": first["id"], "data": "one"},
            {"channel": tab.channel, "id": second["id"], "data": "two"},
        ],
        "cursor": Cursor({tab.channel: second["id"]}).encode(),
        "reset": None,
    }


async def test_cursor_resumes_without_duplicates(tab):
    """Polling again with the returned cursor gives only newer messages, each once."""
    await tab.send("one")
    first = await tab.poll()
    assert data_of(first) == ["one"]
    assert await tab.poll(first["cursor"]) == {
        "messages": [],
        "cursor": first["cursor"],
        "reset": None,
    }
    await tab.send("two", "three")
    second = await tab.poll(first["cursor"])
    assert data_of(second) == ["two", "three"]
    assert data_of(await tab.poll(second["cursor"])) == []


async def test_longpoll_waits_for_a_message(tab):
    """A long-poll without wait=0 answers as soon as a message arrives."""
    start = (await tab.poll())["cursor"]
    poll = asyncio.ensure_future(tab.poll(start, wait=None))
    try:
        await asyncio.sleep(0.1)  # let the poll block first
        assert not poll.done()
        started = time.monotonic()
        await tab.send("news")
        async with asyncio.timeout(PROMPTLY):
            answer = await poll
        assert data_of(answer) == ["news"]
        assert time.monotonic() - started < PROMPTLY
    finally:
        poll.cancel()


async def test_longpoll_times_out_with_an_empty_answer(tab, settings):
    """With nothing to deliver, a long-poll answers an empty list after LONGPOLL_TIMEOUT."""
    settings.THYWILL_LIMITS = {"LONGPOLL_TIMEOUT": 0.2}
    await tab.send("seen")
    cursor = (await tab.poll())["cursor"]
    started = time.monotonic()
    async with asyncio.timeout(PROMPTLY):
        answer = await tab.poll(cursor, wait=None)
    assert answer == {"messages": [], "cursor": cursor, "reset": None}
    assert time.monotonic() - started >= 0.19


async def test_longpoll_reports_lost_history(tab, settings):
    """A cursor whose history was trimmed gets a reset, then what is still retained."""
    settings.THYWILL_COMPONENTS = {"push": {"BACKEND": LOCMEM, "OPTIONS": {"capacity": 2}}}
    await tab.send("1")
    cursor = (await tab.poll())["cursor"]
    await tab.send("2", "3", "4")
    answer = await tab.poll(cursor)
    assert answer["reset"] == {"channels": [tab.channel], "reason": "history_lost"}
    assert data_of(answer) == ["3", "4"]
    assert data_of(await tab.poll(answer["cursor"])) == []


async def test_cursor_from_before_a_restart_is_reset(tab):
    """After the push backend restarts, an old cursor gets a reset, not a silent gap."""
    await tab.send("before")
    cursor = (await tab.poll())["cursor"]
    reset_runtime()  # a fresh in-memory backend: what a server restart does
    # It forgot the client's sequence too: the client renumbers from the seq expected.
    assert await tab.send("after") == [{"seq": 2, "status": "out_of_order", "expected": 1}]
    tab.seq = 0
    assert await tab.send("after") == [{"seq": 1, "status": "ok"}]
    answer = await tab.poll(cursor)
    assert (answer["reset"], data_of(answer)) == (
        {"channels": [tab.channel], "reason": "history_lost"},
        ["after"],
    )


async def test_cursor_cannot_read_another_clients_channel(tab):
    """A cursor naming another client's channel is ignored: a client reads only its own."""
    other = Tab()
    await other.bootstrap()
    await other.send("secret")
    foreign = (await other.poll())["cursor"]
    assert await tab.poll(foreign) == {"messages": [], "cursor": "", "reset": None}
    await tab.send("mine")
    assert data_of(await tab.poll(foreign)) == ["mine"]


async def test_long_backlog_comes_in_read_batches(tab, settings):
    """A backlog longer than READ_BATCH arrives over several polls, in order."""
    settings.THYWILL_LIMITS = {"READ_BATCH": 3}
    await tab.send(*range(7))
    received, cursor = [], ""
    for _ in range(3):
        answer = await tab.poll(cursor)
        received.append(data_of(answer))
        cursor = answer["cursor"]
    assert received == [[0, 1, 2], [3, 4, 5], [6]]


# --- errors: every rejection, its status, its code, logged once -----------------------


def past_token(tab: Tab, age: int) -> str:
    """The tab's token, signed ``age`` seconds ago."""

    class PastSigner(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - age)

    payload = signing.loads(tab.token, salt=TOKEN_SALT)
    return PastSigner(salt=TOKEN_SALT).sign_object(payload)


async def csrf_missing(tab, settings):
    strict = Tab(AsyncClient(enforce_csrf_checks=True))
    await strict.bootstrap()
    return await strict.post_send(strict.batch("x"))


async def csrf_bad_origin(tab, settings):
    strict = Tab(AsyncClient(enforce_csrf_checks=True))
    await strict.bootstrap()
    return await strict.post_send(
        strict.batch("x"),
        **{"X-CSRFToken": strict.config["csrfToken"], "Origin": "https://evil.example"},
    )


async def csrf_ok_but_multipart(tab, settings):
    strict = Tab(AsyncClient(enforce_csrf_checks=True))
    await strict.bootstrap()
    return await strict.client.post(
        "/thywill/send/",
        json.dumps(strict.batch("x")),
        content_type="multipart/form-data; boundary=x",
        headers={"X-CSRFToken": strict.config["csrfToken"]},
    )


async def csrf_wrong_token(tab, settings):
    strict = Tab(AsyncClient(enforce_csrf_checks=True))
    await strict.bootstrap()
    return await strict.post_send(strict.batch("x"), **{"X-CSRFToken": "w" * 64})


async def session_mismatch(tab, settings):
    other = Tab()
    await other.bootstrap()
    return await other.client.get(
        "/thywill/longpoll/", {"wait": "0"}, headers=token_header(tab)
    )


async def session_missing(tab, settings):
    return await AsyncClient().get(
        "/thywill/longpoll/", {"wait": "0"}, headers=token_header(tab)
    )


async def unknown_application_on_send(tab, settings):
    identity = ClientIdentity(new_client_id(), "gone", session_hash(tab.session_key))
    body = {"token": issue_token(identity), "messages": [{"seq": 1, "data": 1}]}
    return await tab.post_send(body)


async def send_unavailable(tab, settings):
    settings.THYWILL_COMPONENTS = {"push": {"BACKEND": UNREACHABLE}}
    return await tab.post_send(tab.batch("x"))


async def longpoll_unavailable(tab, settings):
    settings.THYWILL_COMPONENTS = {"push": {"BACKEND": UNREACHABLE}}
    return await tab.poll_response()


async def init_unavailable(tab, settings):
    settings.THYWILL_COMPONENTS = {"push": {"BACKEND": UNREACHABLE}}
    return await tab.client.get("/thywill/testkit/init/")


async def longpoll_disabled(tab, settings):
    settings.THYWILL_TRANSPORTS = ["sse"]
    return await tab.poll_response()


async def sse_disabled(tab, settings):
    settings.THYWILL_TRANSPORTS = ["longpoll"]
    return await tab.sse_response()


async def health_unavailable(tab, settings):
    settings.THYWILL_COMPONENTS = {"push": {"BACKEND": UNREACHABLE}}
    return await tab.client.get("/thywill/health/")


async def too_large(tab, settings):
    return await tab.post_send(tab.batch("x" * 70_000))


async def too_large_small_limit(tab, settings):
    settings.THYWILL_LIMITS = {"MAX_MESSAGE_BYTES": 100}
    return await tab.post_send(tab.batch("x" * 100))


SIGNATURE = "The token's signature does not match."
TOKEN_IN_QUERY = (
    "The token goes in the X-Thywill-Token header (WebSocket: in the auth frame), "
    "never in the URL."
)
UNAVAILABLE = "The message service is unavailable; try again shortly."

REJECTIONS = {
    "not_found": (
        lambda tab, s: tab.client.get("/thywill/no/such/endpoint/"),
        404,
        "not_found",
        "Nothing is at /thywill/no/such/endpoint/.",
    ),
    "bad_json": (
        lambda tab, s: tab.post_send("{not json"),
        400,
        "bad_json",
        None,
    ),
    "bad_json_nan": (
        lambda tab, s: tab.post_send(
            '{"token": "' + tab.token + '", "messages": [{"seq": 1, "data": NaN}]}'
        ),
        400,
        "bad_json",
        None,
    ),
    "bad_message": (
        lambda tab, s: tab.post_send({"token": tab.token}),
        400,
        "bad_message",
        "'messages' must be a non-empty list.",
    ),
    "bad_message_seq": (
        lambda tab, s: tab.post_send(
            {"token": tab.token, "messages": [{"seq": 0, "data": 1}]}
        ),
        400,
        "bad_message",
        "messages[0].seq must be a positive integer.",
    ),
    "bad_cursor_longpoll": (
        lambda tab, s: tab.poll_response("!!!"),
        400,
        "bad_cursor",
        "The cursor cannot be decoded.",
    ),
    "bad_cursor_sse": (
        lambda tab, s: tab.sse_response({"cursor": "!!!"}),
        400,
        "bad_cursor",
        "The cursor cannot be decoded.",
    ),
    "bad_cursor_last_event_id": (
        lambda tab, s: tab.sse_response(headers={"Last-Event-ID": b64(b"[]")}),
        400,
        "bad_cursor",
        "The cursor does not map channels to positions.",
    ),
    "bad_transport": (
        lambda tab, s: tab.client.get("/thywill/init/", {"transport": "smoke"}),
        400,
        "bad_transport",
        "Unknown transport 'smoke'; enabled: websocket, sse, longpoll.",
    ),
    "bad_transport_longpoll_disabled": (
        longpoll_disabled,
        400,
        "bad_transport",
        "The longpoll transport is not enabled here.",
    ),
    "bad_transport_sse_disabled": (
        sse_disabled,
        400,
        "bad_transport",
        "The sse transport is not enabled here.",
    ),
    "bad_token_missing": (
        lambda tab, s: tab.client.get("/thywill/longpoll/", {"wait": "0"}),
        403,
        "bad_token",
        "A token is required.",
    ),
    "bad_token_tampered": (
        lambda tab, s: tab.poll_response(token=tab.token[:-2] + "xx"),
        403,
        "bad_token",
        SIGNATURE,
    ),
    "bad_token_sse": (
        lambda tab, s: tab.sse_response(token="garbage"),
        403,
        "bad_token",
        SIGNATURE,
    ),
    "token_in_query_longpoll": (
        lambda tab, s: tab.client.get(
            "/thywill/longpoll/", {"token": tab.token, "wait": "0"}
        ),
        400,
        "bad_request",
        TOKEN_IN_QUERY,
    ),
    "token_in_query_and_header_longpoll": (
        lambda tab, s: tab.client.get(
            "/thywill/longpoll/",
            {"token": tab.token, "wait": "0"},
            headers=token_header(tab),
        ),
        400,
        "bad_request",
        TOKEN_IN_QUERY,
    ),
    "token_in_query_sse": (
        lambda tab, s: tab.client.get("/thywill/sse/", {"token": tab.token}),
        400,
        "bad_request",
        TOKEN_IN_QUERY,
    ),
    "token_in_query_empty_sse": (
        lambda tab, s: tab.sse_response({"token": ""}),
        400,
        "bad_request",
        TOKEN_IN_QUERY,
    ),
    "bad_token_send": (
        lambda tab, s: tab.post_send({"token": "x", "messages": [{"seq": 1, "data": 1}]}),
        403,
        "bad_token",
        SIGNATURE,
    ),
    "token_expired": (
        lambda tab, s: tab.poll_response(token=past_token(tab, 8 * 24 * 3600)),
        403,
        "token_expired",
        "The token has expired; load the page again.",
    ),
    "session_mismatch": (
        session_mismatch,
        403,
        "session_mismatch",
        "The token belongs to another session.",
    ),
    "session_missing": (
        session_missing,
        403,
        "session_mismatch",
        "The token belongs to another session.",
    ),
    "csrf_missing": (
        csrf_missing,
        403,
        "csrf_failed",
        "CSRF verification failed: CSRF token missing.",
    ),
    "multipart_body": (
        csrf_ok_but_multipart,
        400,
        "bad_request",
        "The body must be JSON (Content-Type: application/json), not a form.",
    ),
    "csrf_wrong_token": (
        csrf_wrong_token,
        403,
        "csrf_failed",
        "CSRF verification failed: CSRF token from the 'X-Csrftoken' HTTP header "
        "incorrect.",
    ),
    "csrf_bad_origin": (
        csrf_bad_origin,
        403,
        "csrf_failed",
        "CSRF verification failed: Origin checking failed - https://evil.example does "
        "not match any trusted origins.",
    ),
    "unknown_application_init": (
        lambda tab, s: tab.client.get("/thywill/nope/init/"),
        404,
        "unknown_application",
        "No application is named 'nope'.",
    ),
    "unknown_application_send": (
        unknown_application_on_send,
        404,
        "unknown_application",
        "The application 'gone' is no longer configured.",
    ),
    "method_send_get": (
        lambda tab, s: tab.client.get("/thywill/send/"),
        405,
        "method_not_allowed",
        "GET is not allowed here; use POST.",
    ),
    "method_longpoll_post": (
        lambda tab, s: tab.client.post("/thywill/longpoll/"),
        405,
        "method_not_allowed",
        "POST is not allowed here; use GET.",
    ),
    "method_sse_put": (
        lambda tab, s: tab.client.put("/thywill/sse/"),
        405,
        "method_not_allowed",
        "PUT is not allowed here; use GET.",
    ),
    "too_large": (
        too_large,
        413,
        "too_large",
        None,
    ),
    "too_large_small_limit": (
        too_large_small_limit,
        413,
        "too_large",
        None,
    ),
    "unavailable_send": (send_unavailable, 503, "unavailable", UNAVAILABLE),
    "unavailable_longpoll": (longpoll_unavailable, 503, "unavailable", UNAVAILABLE),
    "unavailable_init": (init_unavailable, 503, "unavailable", UNAVAILABLE),
    "unavailable_health": (health_unavailable, 503, "unavailable", UNAVAILABLE),
    "method_health_post": (
        lambda tab, s: tab.client.post("/thywill/health/"),
        405,
        "method_not_allowed",
        "POST is not allowed here; use GET.",
    ),
}


@pytest.mark.parametrize("case", REJECTIONS)
async def test_rejection_status_code_and_single_log_record(tab, settings, logs, case):
    """Each bad request answers its status and JSON code, logged once, on thywill only."""
    make_request, status, code, message = REJECTIONS[case]
    logs.clear()
    response = await make_request(tab, settings)
    body = response.json()
    assert (response.status_code, response["Content-Type"]) == (status, "application/json")
    assert list(body) == ["error"]
    assert sorted(body["error"]) == ["code", "message"]
    assert body["error"]["code"] == code
    if message is not None:
        assert body["error"]["message"] == message
    thywill = [r for r in logs.records if r.name == "thywill"]
    django = [r for r in logs.records if r.name.startswith("django")]
    assert [r.levelname for r in thywill] == ["ERROR" if status == 503 else "WARNING"]
    assert django == []
    if status != 503:
        assert thywill[0].thywill_code == code


async def test_too_large_message_names_the_limit(tab, settings):
    """A body over MAX_MESSAGE_BYTES is refused with its size and the limit."""
    settings.THYWILL_LIMITS = {"MAX_MESSAGE_BYTES": 100}
    body = json.dumps(tab.batch("x" * 100))
    response = await tab.post_send(body)
    assert (response.status_code, response.json()) == (
        413,
        error("too_large", f"The body is {len(body)} bytes; the limit is 100."),
    )


async def test_rejection_affects_only_that_request(tab):
    """A rejected request leaves the client able to send and poll normally."""
    bad = await tab.post_send("{")
    assert bad.status_code == 400
    assert await tab.send("still fine") == [{"seq": 1, "status": "ok"}]
    assert data_of(await tab.poll()) == ["still fine"]


async def test_send_with_csrf_token_and_same_origin_passes():
    """With CSRF checks on, the config's csrfToken and the site's Origin are accepted."""
    strict = Tab(AsyncClient(enforce_csrf_checks=True))
    await strict.bootstrap()
    response = await strict.post_send(
        strict.batch("ok"),
        **{"X-CSRFToken": strict.config["csrfToken"], "Origin": "http://testserver"},
    )
    assert (response.status_code, response.json()) == (
        200,
        {"results": [{"seq": 1, "status": "ok"}]},
    )


async def test_token_within_max_age_is_accepted(tab, settings):
    """A token younger than TOKEN_MAX_AGE is accepted; an older one is token_expired."""
    settings.THYWILL_LIMITS = {"TOKEN_MAX_AGE": 60}
    fresh = await tab.poll_response(token=past_token(tab, 30))
    stale = await tab.poll_response(token=past_token(tab, 90))
    assert (fresh.status_code, stale.status_code) == (200, 403)
    assert stale.json()["error"]["code"] == "token_expired"


# --- no input yields a 500 --------------------------------------------------------------

ODD_SEND_BODIES = {
    "empty": b"",
    "null": b"null",
    "number": b"1e999",
    "not-utf8": b"\xff\xfe\x00{",
    "nan-data": b'{"token": "t", "messages": [{"seq": 1, "data": NaN}]}',
    "token-object": b'{"token": {}, "messages": [{"seq": 1, "data": 1}]}',
    "token-huge": json.dumps(
        {"token": "t" * 5000, "messages": [{"seq": 1, "data": 1}]}
    ).encode(),
    "seq-huge": b'{"token": "t", "messages": [{"seq": 1' + b"0" * 400 + b', "data": 1}]}',
    "deep-nesting": b"[" * 5000 + b"]" * 5000,
    "deep-data": (
        b'{"token": "t", "messages": [{"seq": 1, "data": '
        + b"[" * 3000
        + b"]" * 3000
        + b"}]}"
    ),
}


@pytest.mark.parametrize("name", ODD_SEND_BODIES)
async def test_odd_send_bodies_get_a_4xx(tab, name):
    """No send body, however odd, makes the server fail: each gets a JSON 4xx."""
    response = await tab.post_send(ODD_SEND_BODIES[name])
    assert 400 <= response.status_code < 500, response.content
    assert list(response.json()) == ["error"]


ODD_POLL_QUERIES = {
    "cursor-deep-json": {"cursor": b64(b"[" * 3000)},
    "cursor-too-long": {"cursor": "A" * 5000},
    "cursor-unicode": {"cursor": "é✓"},
    "token-huge": {"token": "t" * 5000},
    "token-colons": {"token": ":::"},
    "token-in-the-query": {"query_token": "x"},
}


@pytest.mark.parametrize("name", ODD_POLL_QUERIES)
async def test_odd_poll_queries_get_a_4xx(tab, name):
    """No long-poll query, however odd, makes the server fail: each gets a JSON 4xx."""
    query = dict(ODD_POLL_QUERIES[name])
    if "query_token" in query:
        query["token"] = query.pop("query_token")  # refused: it goes in the header
    response = await tab.poll_response(**query)
    assert 400 <= response.status_code < 500, response.content
    assert list(response.json()) == ["error"]


@pytest.mark.parametrize("suffix", ["\u00b3", "x", "999999", "-1", "\u0663"])
async def test_forged_position_in_own_cursor_is_a_reset(tab, suffix):
    """A cursor position the client edited (own channel) gets a reset, never a failure."""
    await tab.send("one")
    [message] = (await tab.poll())["messages"]
    forged = Cursor({tab.channel: message["id"] + suffix}).encode()
    response = await tab.poll_response(forged)
    assert response.status_code == 200, response.content
    answer = json.loads(response.content)
    assert (answer["reset"], data_of(answer)) == (
        {"channels": [tab.channel], "reason": "history_lost"},
        ["one"],
    )


async def test_wait_parameter_other_than_zero_waits(tab, settings):
    """Any wait value other than "0" is an ordinary long-poll (it waits), not an error."""
    settings.THYWILL_LIMITS = {"LONGPOLL_TIMEOUT": 0.1}
    async with asyncio.timeout(PROMPTLY):
        answer = await tab.poll(wait="soon")
    assert answer == {"messages": [], "cursor": "", "reset": None}


# --- Server-Sent Events -----------------------------------------------------------------


@contextlib.asynccontextmanager
async def sse_stream(
    tab: Tab, *, cursor: str | None = None, last_event_id: str | None = None
):
    """Open the tab's SSE stream; yield the response and its chunk iterator, then close."""
    query = {} if cursor is None else {"cursor": cursor}
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    response = await tab.sse_response(query, headers=headers)
    assert response.status_code == 200, response.content
    chunks = aiter(response.streaming_content)
    try:
        yield response, chunks
    finally:
        await chunks.aclose()


async def next_chunk(chunks, timeout: float = PROMPTLY) -> str:
    """The next chunk of a stream, as text, within ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        return (await anext(chunks)).decode()


def open_event(cursor: str) -> str:
    """The padding and open event that start every stream."""
    return PADDING + f'id: {cursor}\nevent: open\ndata: {{"cursor":"{cursor}"}}\n\n'


def message_event(channel: str, position: str, data: str, cursor: str) -> str:
    """A message event as the stream writes it."""
    body = f'{{"channel":"{channel}","id":"{position}","data":{data}}}'
    return f"id: {cursor}\nevent: message\ndata: {body}\n\n"


def events_in(chunk: str) -> list[dict[str, str]]:
    """The events of a chunk of text/event-stream, each as its fields (comments dropped)."""
    events = []
    for block in chunk.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if not line.startswith(":")
        )
        if fields:
            events.append(fields)
    return events


def positions_in(chunk: str) -> list[str]:
    """The positions of the message events in a chunk."""
    return [
        json.loads(event["data"])["id"]
        for event in events_in(chunk)
        if event["event"] == "message"
    ]


async def test_sse_starts_with_padding_and_open(tab):
    """The stream opens with 2 KiB of padding and an open event carrying the cursor."""
    async with sse_stream(tab) as (response, chunks):
        assert response["Content-Type"] == "text/event-stream"
        assert response["Cache-Control"] == "no-cache"
        assert response["X-Accel-Buffering"] == "no"
        first = await next_chunk(chunks)
    assert first == open_event("")
    assert first.startswith(":" + " " * 2048 + "\n\n")


async def test_sse_delivers_messages_with_cursor_ids(tab):
    """Each message comes as ``event: message`` whose id is the cursor after it."""
    await tab.send({"n": 1}, {"n": 2})
    async with sse_stream(tab) as (_, chunks):
        await next_chunk(chunks)
        chunk = await next_chunk(chunks)
    first, second = positions_in(chunk)
    assert chunk == message_event(
        tab.channel, first, '{"n":1}', Cursor({tab.channel: first}).encode()
    ) + message_event(
        tab.channel, second, '{"n":2}', Cursor({tab.channel: second}).encode()
    )


async def test_sse_wakes_when_a_message_is_sent(tab):
    """A stream waiting for news writes a message as soon as one is sent."""
    async with sse_stream(tab) as (_, chunks):
        await next_chunk(chunks)
        pending = asyncio.ensure_future(next_chunk(chunks, timeout=5))
        try:
            await asyncio.sleep(0.1)  # let the stream block first
            assert not pending.done()
            await tab.send("news")
            async with asyncio.timeout(PROMPTLY):
                chunk = await pending
        finally:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await pending
    [position] = positions_in(chunk)
    assert chunk == message_event(
        tab.channel, position, '"news"', Cursor({tab.channel: position}).encode()
    )


async def test_sse_last_event_id_resumes(tab):
    """Reconnecting with Last-Event-ID resumes right after the last event received."""
    await tab.send("one")
    async with sse_stream(tab) as (_, chunks):
        await next_chunk(chunks)
        [position] = positions_in(await next_chunk(chunks))
    resume = Cursor({tab.channel: position}).encode()
    await tab.send("two")
    async with sse_stream(tab, last_event_id=resume) as (_, chunks):
        assert await next_chunk(chunks) == open_event(resume)
        chunk = await next_chunk(chunks)
    [second] = positions_in(chunk)
    assert chunk == message_event(
        tab.channel, second, '"two"', Cursor({tab.channel: second}).encode()
    )


async def test_sse_last_event_id_wins_over_cursor_parameter(tab):
    """When both are given, Last-Event-ID is used and the cursor parameter is ignored."""
    await tab.send("one")
    resume = (await tab.poll())["cursor"]
    async with sse_stream(tab, cursor="!!!garbage", last_event_id=resume) as (_, chunks):
        assert await next_chunk(chunks) == open_event(resume)


async def test_sse_cursor_parameter_resumes(tab):
    """Without Last-Event-ID, the cursor parameter says where to start."""
    await tab.send("one", "two")
    answer = await tab.poll()
    _, second = answer["messages"]
    first_cursor = Cursor({tab.channel: answer["messages"][0]["id"]}).encode()
    async with sse_stream(tab, cursor=first_cursor) as (_, chunks):
        assert await next_chunk(chunks) == open_event(first_cursor)
        assert await next_chunk(chunks) == message_event(
            tab.channel, second["id"], '"two"', answer["cursor"]
        )


async def test_sse_keepalive_after_silence(tab, settings):
    """A stream with nothing to say writes a keepalive event after SSE_KEEPALIVE seconds."""
    settings.THYWILL_LIMITS = {"SSE_KEEPALIVE": 0.2}
    async with sse_stream(tab) as (_, chunks):
        await next_chunk(chunks)
        started = time.monotonic()
        assert await next_chunk(chunks) == KEEPALIVE
        assert time.monotonic() - started >= 0.19
        assert await next_chunk(chunks) == KEEPALIVE
    assert KEEPALIVE == "event: keepalive\ndata: {}\n\n"


async def test_sse_reset_before_retained_messages(tab, settings):
    """After lost history the stream sends a reset event, then the retained messages."""
    settings.THYWILL_COMPONENTS = {"push": {"BACKEND": LOCMEM, "OPTIONS": {"capacity": 2}}}
    await tab.send("1")
    cursor = (await tab.poll())["cursor"]
    await tab.send("2", "3", "4")
    async with sse_stream(tab, cursor=cursor) as (_, chunks):
        assert await next_chunk(chunks) == open_event(cursor)
        chunk = await next_chunk(chunks)
    three, four = positions_in(chunk)
    reset = (
        "id: \nevent: reset\n"
        f'data: {{"channels":["{tab.channel}"],"reason":"history_lost"}}\n\n'
    )
    assert chunk == reset + message_event(
        tab.channel, three, '"3"', Cursor({tab.channel: three}).encode()
    ) + message_event(tab.channel, four, '"4"', Cursor({tab.channel: four}).encode())


async def test_sse_streams_only_the_clients_own_messages(tab):
    """A stream carries the client's own messages, never another client's."""
    other = Tab()
    await other.bootstrap()
    async with sse_stream(tab) as (_, chunks):
        await next_chunk(chunks)
        await other.send("theirs")
        await tab.send("mine")
        chunk = await next_chunk(chunks)
    assert [json.loads(e["data"])["data"] for e in events_in(chunk)] == ["mine"]


async def test_sse_is_refused_while_the_push_backend_is_unreachable(tab, settings, logs):
    """With the push backend unreachable, the stream is refused with 503 (not opened and
    ended at once, which would reset the client's backoff), logged once."""
    settings.THYWILL_COMPONENTS = {"push": {"BACKEND": UNREACHABLE}}
    logs.clear()
    response = await tab.sse_response({"cursor": ""})
    assert (response.status_code, response.json()) == (
        503,
        error("unavailable", "The message service is unavailable; try again shortly."),
    )
    assert [(r.name, r.levelname, r.getMessage()) for r in logs.records] == [
        (
            "thywill",
            "ERROR",
            "Push backend unavailable for /thywill/sse/: connection refused (test backend)",
        )
    ]


async def test_an_open_stream_ends_when_its_token_expires(tab, settings, logs):
    """A stream opened with a token near TOKEN_MAX_AGE ends at its expiry, logged once."""
    settings.THYWILL_LIMITS = {"TOKEN_MAX_AGE": 2, "SSE_KEEPALIVE": 0.5}
    logs.clear()
    async with sse_stream(tab) as (_, chunks):
        assert (await next_chunk(chunks)).endswith(open_event(""))
        async with asyncio.timeout(2 + PROMPTLY):
            rest = [chunk.decode() async for chunk in chunks]
    assert set(rest) <= {KEEPALIVE}
    assert [r.getMessage() for r in logs.records] == [
        "Rejected /thywill/sse/: token_expired "
        "(The token has expired; load the page again.)"
    ]


# --- health -----------------------------------------------------------------------------


async def test_health_is_ok_when_the_push_backend_answers():
    """GET /thywill/health/ answers 200 {"status": "ok"}, never cached."""
    response = await AsyncClient().get("/thywill/health/")
    assert (response.status_code, response["Cache-Control"], response.json()) == (
        200,
        "no-store",
        {"status": "ok"},
    )


@pytest.mark.parametrize("path", ["/thywill/longpoll/", "/thywill/sse/"])
async def test_a_token_in_the_query_is_never_logged(tab, logs, path):
    """A token put in the URL is refused, and its refusal does not repeat it: neither
    thywill's log record nor the answer carries the token."""
    logs.clear()
    response = await tab.client.get(path, {"token": tab.token, "cursor": ""})
    assert response.status_code == 400
    assert tab.token not in response.content.decode()
    [record] = [r for r in logs.records if r.name == "thywill"]
    assert tab.token not in record.getMessage()
    assert all(tab.token not in str(value) for value in vars(record).values())
