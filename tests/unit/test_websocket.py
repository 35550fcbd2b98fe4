"""The WebSocket transport in-process, through Channels' WebsocketCommunicator."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest
from channels.testing import WebsocketCommunicator
from django.core import signing

from tests.unit.test_views import LOCMEM, UNREACHABLE, Tab
from thywill.edge.websocket import WebsocketRouter, check_origin
from thywill.wiring.runtime import get_runtime

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "http://testserver"
WAIT = 2.0
application = WebsocketRouter()


class Socket(WebsocketCommunicator):
    """A communicator that, once accepted, sends its auth frame as thywill.js does
    (``auth`` None: none; the test sends the first frame itself)."""

    def __init__(self, *args, auth: str | None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.auth = auth

    async def connect(self, timeout: float = 1):
        connected = await super().connect(timeout)
        if connected[0] and self.auth is not None:
            await self.send_to(json.dumps({"type": "auth", "token": self.auth}))
        return connected


def socket_for(
    tab: Tab,
    *,
    token: str | None = None,
    cursor: str = "",
    origin: str | None = ORIGIN,
    cookie: str | None = None,
    path: str = "/thywill/websocket/",
    auth: bool = True,
    query: str = "",
) -> Socket:
    """A communicator for ``tab``'s socket, with the headers a browser would send; its
    first frame is the auth frame with the tab's token (or ``token``), unless ``auth``
    is false."""
    headers = [(b"host", b"testserver")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    cookie = f"sessionid={tab.session_key}" if cookie is None else cookie
    headers.append((b"cookie", cookie.encode()))
    token = tab.token if token is None else token
    return Socket(
        application,
        f"{path}?cursor={cursor}{query}",
        headers=headers,
        auth=token if auth else None,
    )


async def frame(socket: WebsocketCommunicator) -> dict:
    """The next frame, parsed."""
    return json.loads(await socket.receive_from(WAIT))


async def opened(tab: Tab, **options) -> WebsocketCommunicator:
    """A connected socket of ``tab``, its ``open`` frame already read."""
    socket = socket_for(tab, **options)
    assert await socket.connect(WAIT) == (True, None)
    assert (await frame(socket))["type"] == "open"
    return socket


async def refused(socket: WebsocketCommunicator) -> tuple[dict, dict]:
    """The error frame and the close message of a refusal."""
    error = await frame(socket)
    close = await socket.receive_output(WAIT)
    return error, close


def refusal(code: str, message: str, status: int) -> tuple[dict, dict]:
    return (
        {"type": "error", "error": {"code": code, "message": message}},
        {"type": "websocket.close", "code": 4000 + status, "reason": code},
    )


@pytest.fixture
async def tab() -> AsyncIterator[Tab]:
    tab = Tab()
    await tab.bootstrap()
    yield tab


def send_frame(*items: tuple[int, object]) -> str:
    return json.dumps(
        {"type": "send", "messages": [{"seq": seq, "data": data} for seq, data in items]}
    )


async def test_echo_round_trip_with_results_and_cursor(tab):
    """A send frame is answered by ``sent``; the echo arrives in a batch with a cursor."""
    socket = socket_for(tab)
    await socket.connect(WAIT)
    assert await frame(socket) == {"type": "open", "cursor": ""}
    await socket.send_to(send_frame((1, {"text": "a"}), (2, "b")))
    received: list = []
    sent = None
    while len(received) < 2 or sent is None:
        item = await frame(socket)
        if item["type"] == "sent":
            sent = item
        else:
            assert item["type"] == "batch" and item["reset"] is None
            assert item["cursor"]
            received.extend(item["messages"])
    assert sent == {
        "type": "sent",
        "results": [{"seq": 1, "status": "ok"}, {"seq": 2, "status": "ok"}],
    }
    assert [m["data"] for m in received] == [{"text": "a"}, "b"]
    assert {m["channel"] for m in received} == {tab.channel}
    await socket.disconnect()


async def test_resumes_from_the_cursor_and_dedupes_across_transports(tab):
    """A socket opened with a cursor gets only what followed; HTTP and it share seqs."""
    await tab.send("one")
    first = await tab.poll()
    await tab.send("two")
    socket = await opened(tab, cursor=first["cursor"])
    batch = await frame(socket)
    assert [m["data"] for m in batch["messages"]] == ["two"]
    await socket.send_to(send_frame((2, "two again"), (3, "three")))
    answer = await frame(socket)
    assert answer["results"] == [
        {"seq": 2, "status": "duplicate"},
        {"seq": 3, "status": "ok"},
    ]
    batch = await frame(socket)
    assert [m["data"] for m in batch["messages"]] == ["three"]
    await socket.disconnect()


async def test_keepalive_frames_when_silent(tab, settings):
    """After SSE_KEEPALIVE seconds of silence the server writes a keepalive frame."""
    settings.THYWILL_LIMITS = {"SSE_KEEPALIVE": 0.1}
    socket = await opened(tab)
    assert await frame(socket) == {"type": "keepalive"}
    await socket.disconnect()


@pytest.mark.parametrize(
    ("options", "code", "message", "status"),
    [
        pytest.param(
            {"token": "forged"},
            "bad_token",
            "The token's signature does not match.",
            403,
            id="forged-token",
        ),
        pytest.param(
            {"token": ""}, "bad_token", "A token is required.", 403, id="no-token"
        ),
        pytest.param(
            {"cookie": "sessionid=someone-else"},
            "session_mismatch",
            "The token belongs to another session.",
            403,
            id="other-session",
        ),
        pytest.param(
            {"origin": "http://evil.example"},
            "bad_origin",
            "The origin 'http://evil.example' may not open this socket.",
            403,
            id="wrong-origin",
        ),
        pytest.param(
            {"origin": None},
            "bad_origin",
            "An Origin header is required.",
            403,
            id="no-origin",
        ),
        pytest.param(
            {"cursor": "%%%"},
            "bad_cursor",
            "The cursor cannot be decoded.",
            400,
            id="bad-cursor",
        ),
    ],
)
async def test_refused_connections_close_with_their_code(
    tab, logs, options, code, message, status
):
    """Each refusal: an error frame, then close code 4000+status with the code as reason."""
    socket = socket_for(tab, **options)
    assert await socket.connect(WAIT) == (True, None)
    assert await refused(socket) == refusal(code, message, status)
    records = [r for r in logs.records if r.name == "thywill"]
    assert [r.thywill_code for r in records] == [code]


TOKEN_IN_QUERY = (
    "The token goes in the X-Thywill-Token header (WebSocket: in the auth frame), "
    "never in the URL."
)


@pytest.mark.parametrize("token", ["tab", "", "forged"])
async def test_a_token_in_the_query_closes_4400_bad_request(tab, logs, token):
    """A token in the URL is refused before anything else, auth frame or not, and its
    refusal is logged once without the token."""
    value = tab.token if token == "tab" else token
    socket = socket_for(tab, query=f"&token={value}")
    assert await socket.connect(WAIT) == (True, None)
    assert await refused(socket) == refusal("bad_request", TOKEN_IN_QUERY, 400)
    [record] = [r for r in logs.records if r.name == "thywill"]
    assert record.thywill_code == "bad_request"
    assert tab.token not in record.getMessage()
    assert all(tab.token not in str(value) for value in vars(record).values())


async def test_no_auth_frame_closes_4408_after_the_bound(tab, settings, logs):
    """A socket that sends nothing is closed after AUTH_TIMEOUT with 4408 auth_timeout,
    and is given nothing before: no ``open``, no message."""
    settings.THYWILL_LIMITS = {"AUTH_TIMEOUT": 0.2}
    await tab.send("waiting for the socket")
    socket = socket_for(tab, auth=False)
    started = time.monotonic()
    assert await socket.connect(WAIT) == (True, None)
    assert await socket.receive_nothing(0.1)
    assert await refused(socket) == refusal(
        "auth_timeout",
        'No auth frame within 0.2 s of the connection; the first frame must be {"type": '
        '"auth", "token": ...}.',
        408,
    )
    assert 0.2 <= time.monotonic() - started < WAIT
    assert [r.thywill_code for r in logs.records if r.name == "thywill"] == ["auth_timeout"]


async def test_nothing_is_delivered_before_the_auth_frame(tab):
    """The feed starts only once the auth frame passed: ``open`` first, then what was
    waiting; a slow auth frame within the bound is fine."""
    await tab.send("waiting")
    socket = socket_for(tab, auth=False)
    assert await socket.connect(WAIT) == (True, None)
    assert await socket.receive_nothing(0.3)
    await socket.send_to(json.dumps({"type": "auth", "token": tab.token}))
    assert await frame(socket) == {"type": "open", "cursor": ""}
    batch = await frame(socket)
    assert [m["data"] for m in batch["messages"]] == ["waiting"]
    await socket.disconnect()


FIRST_FRAME = 'The first frame must be {"type": "auth", "token": ...}; this one was '


@pytest.mark.parametrize(
    ("payload", "what"),
    [
        pytest.param(b"\x00\x01", "a binary frame", id="binary"),
        pytest.param("not json", "not JSON", id="not-json"),
        pytest.param("[1, 2]", "not a JSON object", id="not-an-object"),
        pytest.param(send_frame((1, "x")), "of another type", id="a-send-frame"),
        pytest.param('{"token": "t"}', "of another type", id="no-type"),
        pytest.param('{"type": "auth"}', "without a string 'token'", id="no-token"),
        pytest.param(
            '{"type": "auth", "token": 1}', "without a string 'token'", id="token-int"
        ),
    ],
)
async def test_a_wrong_first_frame_closes_4400_bad_request(tab, logs, payload, what):
    """Any first frame but ``{"type": "auth", "token": T}`` closes 4400 bad_request,
    before anything is delivered; the message says what the frame was, not what it
    held."""
    await tab.send("never delivered here")
    socket = socket_for(tab, auth=False)
    assert await socket.connect(WAIT) == (True, None)
    if isinstance(payload, bytes):
        await socket.send_to(bytes_data=payload)
    else:
        await socket.send_to(text_data=payload)
    assert await refused(socket) == refusal("bad_request", FIRST_FRAME + what + ".", 400)
    assert [r.thywill_code for r in logs.records if r.name == "thywill"] == ["bad_request"]


async def test_an_auth_frame_after_the_first_is_a_bad_frame(tab):
    """Once authenticated, a second auth frame is no ``send``: 4400 bad_frame."""
    socket = await opened(tab)
    await socket.send_to(json.dumps({"type": "auth", "token": tab.token}))
    assert await refused(socket) == refusal(
        "bad_frame",
        "Unknown frame type 'auth': a client sends only JSON objects of type 'send'.",
        400,
    )


async def test_expired_token_is_refused(tab, monkeypatch):
    """A token older than TOKEN_MAX_AGE closes 4403 token_expired."""
    issued = time.time() - 8 * 24 * 3600
    monkeypatch.setattr(signing.time, "time", lambda: issued)
    old = signing.dumps(
        signing.loads(tab.token, salt="thywill.client"), salt="thywill.client"
    )
    monkeypatch.undo()
    socket = socket_for(tab, token=old)
    await socket.connect(WAIT)
    assert await refused(socket) == refusal(
        "token_expired", "The token has expired; load the page again.", 403
    )


async def test_disabled_transport_is_refused(tab, settings):
    """Without websocket in THYWILL_TRANSPORTS the socket closes 4400 bad_transport."""
    settings.THYWILL_TRANSPORTS = ["sse", "longpoll"]
    socket = socket_for(tab)
    await socket.connect(WAIT)
    assert await refused(socket) == refusal(
        "bad_transport", "The websocket transport is not enabled here.", 400
    )


async def test_unknown_path_is_not_found(tab):
    """Any other WebSocket path closes 4404 not_found."""
    socket = socket_for(tab, path="/thywill/nowhere/")
    await socket.connect(WAIT)
    assert await refused(socket) == refusal(
        "not_found", "Nothing is at /thywill/nowhere/.", 404
    )


@pytest.mark.parametrize(
    ("payload", "code", "message", "status"),
    [
        pytest.param(
            "not json",
            "bad_json",
            "The frame is not JSON: Expecting value: line 1 column 1 (char 0)",
            400,
            id="not-json",
        ),
        pytest.param(
            json.dumps({"type": "send", "pad": "x" * 70_000}),
            "too_large",
            "The frame is 70027 bytes; the limit is 65536.",
            413,
            id="oversize",
        ),
        pytest.param(
            '{"type": "subscribe"}',
            "bad_frame",
            "Unknown frame type 'subscribe': a client sends only JSON objects of type "
            "'send'.",
            400,
            id="unknown-type",
        ),
        pytest.param(
            "[1, 2]",
            "bad_frame",
            "Unknown frame type 'None': a client sends only JSON objects of type 'send'.",
            400,
            id="not-an-object",
        ),
        pytest.param(
            b"\x00\x01",
            "bad_frame",
            "Binary frames are not accepted; send JSON text.",
            400,
            id="binary",
        ),
    ],
)
async def test_bad_frames_close_the_socket(tab, logs, payload, code, message, status):
    """A malformed frame: error frame and close code; logged once; others untouched."""
    other = Tab()
    await other.bootstrap()
    bystander = await opened(other)
    socket = await opened(tab)
    if isinstance(payload, bytes):
        await socket.send_to(bytes_data=payload)
    else:
        await socket.send_to(text_data=payload)
    assert await refused(socket) == refusal(code, message, status)
    assert [r.thywill_code for r in logs.records if r.name == "thywill"] == [code]

    await bystander.send_to(send_frame((1, "still here")))
    frames = [await frame(bystander), await frame(bystander)]
    assert {f["type"] for f in frames} == {"sent", "batch"}
    await bystander.disconnect()


async def test_bad_send_is_answered_and_the_socket_stays_open(tab, logs):
    """A send frame with bad messages answers like a 400 send; the next one works."""
    socket = await opened(tab)
    await socket.send_to(send_frame((2, "a"), (1, "b")))
    assert await frame(socket) == {
        "type": "sent",
        "status": 400,
        "error": {
            "code": "bad_message",
            "message": "messages[1].seq must be above the one before it.",
        },
    }
    await socket.send_to(send_frame((1, "ok")))
    frames = [await frame(socket), await frame(socket)]
    assert {f["type"] for f in frames} == {"sent", "batch"}
    await socket.disconnect()


async def test_unreachable_push_backend_closes_4503(tab, settings, logs):
    """When the push backend is down the socket closes before ``open`` (so the client
    backs off) and says why; the server stays up."""
    settings.THYWILL_COMPONENTS = {"push": {"BACKEND": UNREACHABLE}}
    socket = socket_for(tab)
    await socket.connect(WAIT)
    assert await refused(socket) == refusal(
        "unavailable", "The message service is unavailable; try again shortly.", 503
    )
    settings.THYWILL_COMPONENTS = {"push": {"BACKEND": LOCMEM}}
    socket = await opened(tab)
    await socket.disconnect()


async def test_send_while_the_backend_is_down_answers_503(tab, settings, monkeypatch):
    """A send frame that meets an unreachable backend answers 503 (the client resends)."""
    from thywill.exceptions import PushUnavailableError

    async def down(*args):
        raise PushUnavailableError("down (test)")

    socket = await opened(tab)
    monkeypatch.setattr(get_runtime().events, "handle_messages", down)
    await socket.send_to(send_frame((1, "x")))
    assert await frame(socket) == {
        "type": "sent",
        "status": 503,
        "error": {
            "code": "unavailable",
            "message": "The message service is unavailable; try again shortly.",
        },
    }
    await socket.disconnect()


async def test_removed_application_answers_unknown_application(tab, settings):
    """A send for an application no longer configured answers 404, like the HTTP send."""
    socket = await opened(tab)
    settings.THYWILL_APPLICATIONS = {
        "other": {"BACKEND": "thywill_apps.echo.application.EchoApplication"}
    }
    await socket.send_to(send_frame((1, "x")))
    answer = await frame(socket)
    assert (answer["status"], answer["error"]["code"]) == (404, "unknown_application")
    await socket.disconnect()


@pytest.mark.parametrize(
    ("origin", "scheme", "trusted", "allowed"),
    [
        ("http://site.test", "ws", [], True),
        ("https://site.test", "wss", [], True),
        ("https://site.test", "ws", [], False),
        ("https://app.example.com", "ws", ["https://*.example.com"], True),
        ("http://app.example.com", "ws", ["https://*.example.com"], False),
        ("https://proxy.example", "ws", ["https://proxy.example"], True),
    ],
)
def test_origin_rules(settings, origin, scheme, trusted, allowed):
    """The page's own origin and CSRF_TRUSTED_ORIGINS (wildcards too) may connect."""
    from thywill.exceptions import RejectedError

    settings.CSRF_TRUSTED_ORIGINS = trusted
    headers = {"origin": origin, "host": "site.test"}
    if allowed:
        check_origin(headers, scheme)
    else:
        with pytest.raises(RejectedError):
            check_origin(headers, scheme)


async def test_an_open_socket_closes_when_its_token_expires(tab, settings):
    """A socket opened with a token near TOKEN_MAX_AGE closes 4403 token_expired then."""
    settings.THYWILL_LIMITS = {"TOKEN_MAX_AGE": 2, "SSE_KEEPALIVE": 0.5}
    socket = await opened(tab)
    error_frame = None
    async with asyncio.timeout(2 + WAIT):
        while error_frame is None:
            received = await frame(socket)
            if received["type"] == "error":
                error_frame = received
            else:
                assert received["type"] == "keepalive"
        close = await socket.receive_output(WAIT)
    assert (error_frame, close) == refusal(
        "token_expired", "The token has expired; load the page again.", 403
    )
